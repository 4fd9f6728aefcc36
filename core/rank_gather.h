// Gathers what each rank holds onto every rank, in rank order: the ranks' row slices of a
// table become the whole table on each of them. Built on broadcasts from each rank in turn,
// so any Communicator serves and no count is limited to an int.
#pragma once

#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "core/communicator.h"

namespace ca {

/// Every rank's bytes, index = rank, on every rank. Every rank must call it.
std::vector<std::vector<char>> allgather_bytes(Communicator& comm, const std::vector<char>& mine);

/// Every rank's list of strings, index = rank, on every rank.
std::vector<std::vector<std::string>> allgather_strings(Communicator& comm,
                                                        const std::vector<std::string>& mine);

/// Every rank passes the message of the InputError it met (empty for none); when any did, the
/// lowest rank's is thrown as an InputError on every rank, so that no rank is left waiting in
/// a collective the failed one never reaches. Every rank must call it.
void throw_first_error(Communicator& comm, const std::string& own_error);

/// Rank root's vector to every rank (trivially copyable T); the others are resized to match.
template <typename T>
void broadcast_vector(Communicator& comm, int root, std::vector<T>& data) {
    static_assert(std::is_trivially_copyable<T>::value, "sent as raw bytes");
    if (comm.size() == 1) return;
    std::vector<char> bytes(data.size() * sizeof(T));
    if (!bytes.empty()) std::memcpy(bytes.data(), data.data(), bytes.size());
    comm.broadcast_from(root, bytes);
    data.resize(bytes.size() / sizeof(T));
    if (!bytes.empty()) std::memcpy(data.data(), bytes.data(), bytes.size());
}

/// Rank root's strings to every rank.
void broadcast_strings(Communicator& comm, int root, std::vector<std::string>& texts);

/// The ranks' vectors joined in rank order, on every rank (one process: mine as it is).
template <typename T>
std::vector<T> concatenate_over_ranks(Communicator& comm, const std::vector<T>& mine) {
    static_assert(std::is_trivially_copyable<T>::value, "sent as raw bytes");
    if (comm.size() == 1) return mine;
    std::vector<char> bytes(mine.size() * sizeof(T));
    if (!bytes.empty()) std::memcpy(bytes.data(), mine.data(), bytes.size());
    std::vector<std::vector<char>> all = allgather_bytes(comm, bytes);
    size_t total = 0;
    for (const std::vector<char>& part : all) total += part.size() / sizeof(T);
    std::vector<T> joined(total);
    char* out = reinterpret_cast<char*>(joined.data());
    for (const std::vector<char>& part : all) {
        if (part.empty()) continue;
        std::memcpy(out, part.data(), part.size());
        out += part.size();
    }
    return joined;
}

/// n rows of `width` numbers, computed by the ranks in runs of whole blocks of `block` rows
/// (compute(first, count, out) fills rows [first, first + count) into out) and joined on every
/// rank. Rows computed on their own in the blocks one process uses keep the one-process bits.
template <typename T, typename Compute>
std::vector<T> rows_over_ranks(int64_t n, int64_t block, int64_t width, Communicator& comm,
                               Compute&& compute) {
    const RowRange own = comm.aligned_shard(n, block);
    std::vector<T> rows(size_t(own.size() * width));
    if (own.size() > 0) compute(own.begin, own.size(), rows.data());
    if (comm.size() > 1) rows = concatenate_over_ranks(comm, rows);
    return rows;
}

/// Replaces column by its concatenation over the ranks.
template <typename T>
void join_over_ranks(Communicator& comm, std::vector<T>& column) {
    if (comm.size() > 1) column = concatenate_over_ranks(comm, column);
}

}  // namespace ca
