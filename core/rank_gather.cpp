// Allgather by broadcasting from each rank in turn; strings travel length-prefixed.
#include "core/rank_gather.h"

#include <cstdint>

#include "core/errors.h"

namespace ca {

std::vector<std::vector<char>> allgather_bytes(Communicator& comm, const std::vector<char>& mine) {
    std::vector<std::vector<char>> all(size_t(comm.size()));
    for (int root = 0; root < comm.size(); ++root) {
        std::vector<char>& slot = all[size_t(root)];
        if (root == comm.rank()) slot = mine;
        comm.broadcast_from(root, slot);
    }
    return all;
}

namespace {

// Strings as one byte buffer, each length-prefixed, and back.
std::vector<char> encode_strings(const std::vector<std::string>& texts) {
    std::vector<char> bytes;
    for (const std::string& text : texts) {
        const uint64_t length = text.size();
        const char* prefix = reinterpret_cast<const char*>(&length);
        bytes.insert(bytes.end(), prefix, prefix + sizeof(length));
        bytes.insert(bytes.end(), text.begin(), text.end());
    }
    return bytes;
}

std::vector<std::string> decode_strings(const std::vector<char>& bytes) {
    std::vector<std::string> texts;
    size_t at = 0;
    while (at < bytes.size()) {
        uint64_t length = 0;
        CA_ASSERT(at + sizeof(length) <= bytes.size());
        std::memcpy(&length, bytes.data() + at, sizeof(length));
        at += sizeof(length);
        CA_ASSERT(at + length <= bytes.size());
        texts.emplace_back(bytes.data() + at, size_t(length));
        at += length;
    }
    return texts;
}

}  // namespace

std::vector<std::vector<std::string>> allgather_strings(Communicator& comm,
                                                        const std::vector<std::string>& mine) {
    std::vector<std::vector<std::string>> all;
    for (const std::vector<char>& part : allgather_bytes(comm, encode_strings(mine)))
        all.push_back(decode_strings(part));
    return all;
}

void broadcast_strings(Communicator& comm, int root, std::vector<std::string>& texts) {
    if (comm.size() == 1) return;
    std::vector<char> bytes = encode_strings(texts);
    comm.broadcast_from(root, bytes);
    texts = decode_strings(bytes);
}

void throw_first_error(Communicator& comm, const std::string& own_error) {
    if (comm.size() == 1) {
        if (!own_error.empty()) throw InputError(own_error);
        return;
    }
    for (const std::vector<std::string>& error : allgather_strings(comm, {own_error}))
        if (!error[0].empty()) throw InputError(error[0]);
}

}  // namespace ca
