// Checked HDF5 calls, error text from HDF5's error stack, and string / integer attributes.
#include "core/hdf5_io.h"

#include <algorithm>
#include <mutex>
#include <utility>

#include "core/errors.h"

namespace ca::hdf5 {

void silence_library_errors() {
    static std::once_flag once;
    std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

Handle::Handle(Handle&& other) noexcept
    : id_(std::exchange(other.id_, -1)), closer_(other.closer_) {}

Handle& Handle::operator=(Handle&& other) noexcept {
    if (this != &other) {
        reset();
        id_ = std::exchange(other.id_, -1);
        closer_ = other.closer_;
    }
    return *this;
}

bool Handle::reset() {
    if (id_ < 0) return true;
    herr_t status = closer_(std::exchange(id_, -1));
    return status >= 0;
}

namespace {
herr_t collect_reason(unsigned, const H5E_error2_t* error, void* client) {
    auto* reasons = static_cast<std::vector<std::string>*>(client);
    if (error->desc && *error->desc) reasons->push_back(error->desc);
    return 0;
}
}  // namespace

std::string last_error() {
    std::vector<std::string> reasons;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, collect_reason, &reasons);
    H5Eclear2(H5E_DEFAULT);
    // The outermost reason says what failed, the innermost why; the middle repeats them.
    if (reasons.empty()) return "no reason given by the HDF5 library";
    if (reasons.size() == 1 || reasons.front() == reasons.back()) return reasons.front();
    return reasons.front() + ": " + reasons.back();
}

void check(herr_t status, const std::string& path, const std::string& what) {
    if (status < 0) throw InputError(path + ": " + what + ": " + last_error());
}

Handle checked(hid_t id, Handle::Closer closer, const std::string& path, const std::string& what) {
    if (id < 0) throw InputError(path + ": " + what + ": " + last_error());
    return Handle(id, closer);
}

bool has_attribute(hid_t object, const std::string& name, const std::string& path) {
    htri_t exists = H5Aexists(object, name.c_str());
    if (exists < 0) check(herr_t(-1), path, "cannot look for attribute '" + name + "'");
    return exists > 0;
}

namespace {
// Fixed-length strings, stored inside the attribute where the object header's checksum covers
// them: variable-length ones live in HDF5's global heap, which has no checksum, and the
// library can crash reading a damaged one.
Handle string_type(size_t length, const std::string& path) {
    Handle type = checked(H5Tcopy(H5T_C_S1), H5Tclose, path, "cannot make a string type");
    check(H5Tset_size(type.get(), std::max<size_t>(length, 1)), path, "cannot make a string type");
    check(H5Tset_strpad(type.get(), H5T_STR_NULLPAD), path, "cannot make a string type");
    check(H5Tset_cset(type.get(), H5T_CSET_UTF8), path, "cannot make a string type");
    return type;
}

// An empty list gets a null dataspace: a zero-length simple one is not portable to old readers.
Handle list_space(size_t count, const std::string& path) {
    if (count == 0) return checked(H5Screate(H5S_NULL), H5Sclose, path, "cannot make a dataspace");
    hsize_t dims[1] = {hsize_t(count)};
    return checked(H5Screate_simple(1, dims, nullptr), H5Sclose, path, "cannot make a dataspace");
}

void write_attribute(hid_t object, const std::string& name, hid_t type, hid_t space,
                     const void* data, const std::string& path) {
    std::string what = "cannot write attribute '" + name + "'";
    if (has_attribute(object, name, path)) check(H5Adelete(object, name.c_str()), path, what);
    Handle attribute =
        checked(H5Acreate2(object, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT), H5Aclose,
                path, what);
    if (data) check(H5Awrite(attribute.get(), type, data), path, what);
}

Handle open_attribute(hid_t object, const std::string& name, const std::string& path) {
    if (!has_attribute(object, name, path))
        throw InputError(path + ": attribute '" + name + "' is missing");
    return checked(H5Aopen(object, name.c_str(), H5P_DEFAULT), H5Aclose, path,
                   "cannot open attribute '" + name + "'");
}

[[noreturn]] void wrong_kind(const std::string& name, const std::string& expected,
                             const std::string& path) {
    throw InputError(path + ": attribute '" + name + "' is not " + expected);
}
}  // namespace

void write_string_attribute(hid_t object, const std::string& name, const std::string& value,
                            const std::string& path) {
    Handle type = string_type(value.size(), path);
    Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, "cannot make a dataspace");
    std::string padded = value.empty() ? std::string(1, '\0') : value;
    write_attribute(object, name, type.get(), space.get(), padded.data(), path);
}

void write_strings_attribute(hid_t object, const std::string& name,
                             const std::vector<std::string>& values, const std::string& path) {
    size_t length = 1;
    for (const std::string& value : values) length = std::max(length, value.size());
    Handle type = string_type(length, path);
    Handle space = list_space(values.size(), path);
    std::string packed(values.size() * length, '\0');
    for (size_t i = 0; i < values.size(); ++i)
        packed.replace(i * length, values[i].size(), values[i]);
    write_attribute(object, name, type.get(), space.get(), values.empty() ? nullptr : packed.data(),
                    path);
}

void write_int_attribute(hid_t object, const std::string& name, int64_t value,
                         const std::string& path) {
    Handle space = checked(H5Screate(H5S_SCALAR), H5Sclose, path, "cannot make a dataspace");
    write_attribute(object, name, H5T_STD_I64LE, space.get(), &value, path);
}

std::vector<std::string> read_strings_attribute(hid_t object, const std::string& name,
                                                const std::string& path) {
    Handle attribute = open_attribute(object, name, path);
    std::string what = "cannot read attribute '" + name + "'";
    Handle stored_type = checked(H5Aget_type(attribute.get()), H5Tclose, path, what);
    if (H5Tget_class(stored_type.get()) != H5T_STRING) wrong_kind(name, "text", path);
    Handle space = checked(H5Aget_space(attribute.get()), H5Sclose, path, what);
    hssize_t count = H5Sget_simple_extent_npoints(space.get());
    if (count < 0) check(herr_t(-1), path, what);
    if (count == 0) return {};

    if (H5Tis_variable_str(stored_type.get()) != 0) wrong_kind(name, "fixed-length text", path);
    const size_t length = H5Tget_size(stored_type.get());
    if (length == 0) check(herr_t(-1), path, what);
    Handle type = string_type(length, path);
    std::string packed(size_t(count) * length, '\0');
    check(H5Aread(attribute.get(), type.get(), packed.data()), path, what);
    std::vector<std::string> values;
    for (size_t i = 0; i < size_t(count); ++i) {
        std::string value = packed.substr(i * length, length);
        value.resize(std::min(value.size(), value.find('\0')));
        values.push_back(std::move(value));
    }
    return values;
}

std::string read_string_attribute(hid_t object, const std::string& name, const std::string& path) {
    std::vector<std::string> values = read_strings_attribute(object, name, path);
    if (values.size() != 1) wrong_kind(name, "a single text", path);
    return values.front();
}

int64_t read_int_attribute(hid_t object, const std::string& name, const std::string& path) {
    Handle attribute = open_attribute(object, name, path);
    std::string what = "cannot read attribute '" + name + "'";
    Handle stored_type = checked(H5Aget_type(attribute.get()), H5Tclose, path, what);
    Handle space = checked(H5Aget_space(attribute.get()), H5Sclose, path, what);
    if (H5Tget_class(stored_type.get()) != H5T_INTEGER ||
        H5Sget_simple_extent_npoints(space.get()) != 1)
        wrong_kind(name, "a single integer", path);
    int64_t value = 0;
    check(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), path, what);
    return value;
}

}  // namespace ca::hdf5
