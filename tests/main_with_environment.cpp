// GoogleTest main for the project's test binaries: fills in the locations tests read from the
// environment (test data, shared data, the clusteralloc binary) when the caller did not set them.
#include <gtest/gtest.h>

#include <cstdlib>

int main(int argc, char** argv) {
    setenv("CA_TEST_DATA", CA_TEST_DATA_DEFAULT, 0);
    setenv("CA_SHARED_DATA", CA_SHARED_DATA_DEFAULT, 0);
    setenv("CA_BINARY", CA_BINARY_DEFAULT, 0);
    ::testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
