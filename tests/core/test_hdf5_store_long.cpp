// HDF5 storage, the thorough case: a flipped bit in every byte of a stored file is caught or
// harmless.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/dataset_test_support.h"

namespace ca {
namespace {

TEST(Hdf5StoreLong, EveryDamagedByteIsCaughtOrHarmless) {
    std::filesystem::path dir = std::filesystem::path(::testing::TempDir()) / "hdf5_damage_long";
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    testing::expect_damage_caught(dir, 1);
}

}  // namespace
}  // namespace ca
