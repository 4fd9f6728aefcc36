// Test helpers shared by the storage tests: bit-exact comparison of every Dataset field, a
// hand-made Dataset with every column filled, and the damaged-file check.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/errors.h"
#include "core/hdf5_store.h"

namespace ca::testing {

// Floats compare bit for bit, so NaN cells and -0 count as kept only when kept exactly.
inline void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b,
                             const std::string& column) {
    ASSERT_EQ(a.size(), b.size()) << column;
    for (size_t i = 0; i < a.size(); ++i)
        EXPECT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0)
            << column << "[" << i << "]: " << a[i] << " vs " << b[i];
}

inline void expect_same_dataset(const Dataset& a, const Dataset& b) {
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.n, b.n);
    EXPECT_EQ(a.d, b.d);
    EXPECT_EQ(a.m, b.m);
    EXPECT_EQ(a.feature_names, b.feature_names);
    EXPECT_EQ(a.arm_names, b.arm_names);
    EXPECT_EQ(a.aux_names, b.aux_names);
    expect_same_bits(a.x, b.x, "x");
    EXPECT_EQ(a.arm, b.arm);
    expect_same_bits(a.value, b.value, "value");
    expect_same_bits(a.cost, b.cost, "cost");
    ASSERT_EQ(a.aux.size(), b.aux.size());
    for (size_t k = 0; k < a.aux.size(); ++k)
        expect_same_bits(a.aux[k], b.aux[k], "aux " + std::to_string(k));
    EXPECT_EQ(a.value_is_binary, b.value_is_binary);
    EXPECT_EQ(a.cost_is_binary, b.cost_is_binary);
    EXPECT_EQ(a.propensity, b.propensity);
    expect_same_bits(a.true_value, b.true_value, "true_value");
    expect_same_bits(a.true_cost, b.true_cost, "true_cost");
    EXPECT_EQ(a.user_id, b.user_id);
    EXPECT_EQ(a.source_line, b.source_line);
}

// Seven rows with every column filled, values chosen so that no two cells are alike and
// some need every bit of a float or an int64.
inline Dataset hand_made_rows() {
    Dataset data;
    data.source = "hand-made";
    data.n = 7;
    data.d = 3;
    data.m = 3;
    data.feature_names = {"age", "spend", "visits"};
    data.arm_names = {"control", "5 off", "10 off"};
    data.aux_names = {"clicks", "opened"};
    for (int i = 0; i < 21; ++i) data.x.push_back(float(i) * 0.1f - 1.0f);
    data.x[4] = 3.4e38f;
    data.x[5] = 1e-30f;
    data.arm = {0, 1, 2, 0, 1, 2, 1};
    data.value = {0.5f, 12.25f, 0.0f, 7.125f, 1e6f, 3.0f, 0.1f};
    data.cost = {0.0f, 5.0f, 10.0f, 0.0f, 5.0f, 0.0f, 5.0f};
    data.aux = {{1, 2, 3, 4, 5, 6, 7}, {0, 1, 0, 1, 0, 1, 0}};
    data.propensity = {0.5, 0.25, 0.25, 0.5, 0.25, 0.25, 1.0 / 3.0};
    for (int i = 0; i < 21; ++i) {
        data.true_value.push_back(float(i) / 7.0f);
        data.true_cost.push_back(float(i % 3) * 2.5f);
    }
    for (int64_t i = 0; i < 7; ++i) {
        data.user_id.push_back(int64_t(1) << 53 | (i * 977));
        data.source_line.push_back(2 + i);
    }
    data.value_is_binary = false;
    data.cost_is_binary = true;
    return data;
}

// Flips bit 4 of every stride-th byte of a stored copy of hand_made_rows() and reads it back:
// each read must fail with an InputError naming the file or return the very same rows. Never
// other numbers without a word.
inline void expect_damage_caught(const std::filesystem::path& dir, size_t stride) {
    Dataset data = hand_made_rows();
    std::string whole = (dir / "whole.h5").string();
    write_hdf5(whole, data, {});
    std::ifstream in(whole, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::string path = (dir / "damaged.h5").string();
    int caught = 0;
    for (size_t at = 0; at < bytes.size(); at += stride) {
        std::string damaged = bytes;
        damaged[at] = char(damaged[at] ^ 0x10);
        std::ofstream(path, std::ios::binary | std::ios::trunc) << damaged;
        SCOPED_TRACE("bit 4 of byte " + std::to_string(at) + " flipped");
        try {
            expect_same_dataset(read_hdf5(path), data);
        } catch (const InputError& error) {
            std::string message = error.what();
            EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
            ++caught;
        }
    }
    EXPECT_GT(caught, 0);
}

}  // namespace ca::testing
