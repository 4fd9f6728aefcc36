// Thin checked layer over the HDF5 C API for core/hdf5_store.cpp: owned handles, calls whose
// failure becomes an InputError naming the file (with HDF5's own reason), and attributes.
// Only storage code includes this header; the rest of the project never sees hdf5.h.
#pragma once

#include <hdf5.h>

#include <cstdint>
#include <string>
#include <vector>

namespace ca::hdf5 {

/// Turns off HDF5's printing of error stacks to stderr; failures are reported by exceptions.
void silence_library_errors();

/// An owned HDF5 identifier, closed with the function that fits its kind.
class Handle {
  public:
    using Closer = herr_t (*)(hid_t);
    Handle() = default;
    Handle(hid_t id, Closer closer) : id_(id), closer_(closer) {}
    ~Handle() { reset(); }
    Handle(Handle&& other) noexcept;
    Handle& operator=(Handle&& other) noexcept;
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;

    hid_t get() const { return id_; }
    bool valid() const { return id_ >= 0; }
    /// Closes now; returns false when HDF5 reported an error (unflushed data on a file).
    bool reset();

  private:
    hid_t id_ = -1;
    Closer closer_ = nullptr;
};

/// HDF5's reasons for the last failure, outermost first ("unable to open file: truncated
/// file: eof = 1024, stored_eof = 2048"); clears the error stack.
std::string last_error();

/// Throws InputError "<path>: <what>: <HDF5's reason>" when status is negative.
void check(herr_t status, const std::string& path, const std::string& what);
/// The same for a call that returns an identifier; wraps it with closer.
Handle checked(hid_t id, Handle::Closer closer, const std::string& path, const std::string& what);

/// Throws InputError when the file cannot tell (damaged metadata).
bool has_attribute(hid_t object, const std::string& name, const std::string& path);
void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::string& path);
void write_strings_attribute(hid_t object, const std::string& name,
                             const std::vector<std::string>& values, const std::string& path);
void write_int_attribute(hid_t object, const std::string& name, int64_t value,
                         const std::string& path);
/// Readers throw InputError naming the file and attribute when it is missing or of another
/// kind.
std::string read_string_attribute(hid_t object, const std::string& name, const std::string& path);
std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name,
                                                const std::string& path);
int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& path);

}  // namespace ca::hdf5
