// diffauction/io/errors.hpp - the typed errors of model files (io/model_file.hpp),
// all derived from model_file_error (core/error.hpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "diffauction/core/error.hpp"
#include "diffauction/core/types.hpp"

namespace diffauction {

// ---------------------------------------------------------------------------------
// Errors. All derive from model_file_error (core/error.hpp).

/// The bytes are not a valid model file: an impossible value, a checksum mismatch or
/// trailing bytes. `offset()` is the byte offset of the offending field, `field()` its
/// name (e.g. "manifest[2].rows", "checksum").
class corrupt_model_file : public model_file_error {
public:
    corrupt_model_file(std::uint64_t offset, std::string field, const std::string& detail)
        : corrupt_model_file("corrupt", offset, std::move(field), detail) {}
    std::uint64_t offset() const noexcept { return offset_; }
    const std::string& field() const noexcept { return field_; }

protected:
    corrupt_model_file(const char* adjective, std::uint64_t offset, std::string field, const std::string& detail)
        : model_file_error(format(adjective, offset, field, detail)), offset_(offset), field_(std::move(field)) {}

private:
    static std::string format(const char* adjective, std::uint64_t offset, const std::string& field,
                              const std::string& detail) {
        std::string s = "diffauction: ";
        s.append(adjective).append(" model file at byte ").append(std::to_string(offset));
        s.append(" (").append(field).append("): ").append(detail);
        return s;
    }
    std::uint64_t offset_;
    std::string field_;
};

/// The data ends before a field, or before the bytes a length or count declares.
class truncated_model_file : public corrupt_model_file {
public:
    truncated_model_file(std::uint64_t offset, std::string field, const std::string& detail)
        : corrupt_model_file("truncated", offset, std::move(field), detail) {}
};

/// The first bytes are not the magic "DFAUCTN\0".
class not_a_model_file : public model_file_error {
public:
    explicit not_a_model_file(std::string_view head) : model_file_error(format(head)) {}

private:
    static std::string format(std::string_view head) {
        static constexpr char kHex[] = "0123456789abcdef";
        std::string s = "diffauction: not a diffauction model file: magic (byte 0) is";
        for (const char c : head) {
            const auto b = static_cast<unsigned char>(c);
            s.push_back(' ');
            s.push_back(kHex[b >> 4]);
            s.push_back(kHex[b & 15]);
        }
        s.append(", expected 44 46 41 55 43 54 4e 00 (\"DFAUCTN\\0\")");
        return s;
    }
};

/// The file holds another mechanism's model.
class wrong_model_kind : public model_file_error {
public:
    wrong_model_kind(std::string found, std::string expected)
        : model_file_error(format(found, expected)), found_(std::move(found)), expected_(std::move(expected)) {}
    const std::string& found() const noexcept { return found_; }
    const std::string& expected() const noexcept { return expected_; }

private:
    static std::string format(const std::string& found, const std::string& expected) {
        std::string s = "diffauction: model file: kind (byte 12) is '";
        s.append(found).append("', expected '").append(expected).append("'");
        return s;
    }
    std::string found_;
    std::string expected_;
};

/// The file's version is not one the loader supports: 0 (versions start at 1) or newer
/// than `max_supported()`.
class unsupported_model_version : public model_file_error {
public:
    unsupported_model_version(std::uint32_t version, std::uint32_t max_supported)
        : model_file_error(format(version, max_supported)), version_(version), max_supported_(max_supported) {}
    std::uint32_t version() const noexcept { return version_; }
    std::uint32_t max_supported() const noexcept { return max_supported_; }

private:
    static std::string format(std::uint32_t version, std::uint32_t max_supported) {
        std::string s = "diffauction: model file: version (byte 8) is ";
        s.append(std::to_string(version)).append(", this loader supports versions 1 to ");
        s.append(std::to_string(max_supported));
        return s;
    }
    std::uint32_t version_;
    std::uint32_t max_supported_;
};

/// The file stores float weights and double was asked for, or the reverse.
class model_scalar_mismatch : public model_file_error {
public:
    model_scalar_mismatch(std::uint64_t offset, int file_bytes, int expected_bytes)
        : model_file_error(format(offset, file_bytes, expected_bytes)) {}

private:
    static const char* name(int bytes) { return bytes == 4 ? "float" : "double"; }
    static std::string format(std::uint64_t offset, int file_bytes, int expected_bytes) {
        std::string s = "diffauction: model file: scalar type (byte ";
        s.append(std::to_string(offset)).append(") is ").append(name(file_bytes));
        s.append(", the loader expects ").append(name(expected_bytes));
        return s;
    }
};

/// check_manifest(): the file's parameters are not the ones the model declares.
/// `index()` is the first mismatching entry.
class manifest_mismatch : public model_file_error {
public:
    manifest_mismatch(std::size_t index, const std::string& detail)
        : model_file_error(format(index, detail)), index_(index) {}
    std::size_t index() const noexcept { return index_; }

private:
    static std::string format(std::size_t index, const std::string& detail) {
        std::string s = "diffauction: model file: manifest[";
        s.append(std::to_string(index)).append("]: ").append(detail);
        return s;
    }
    std::size_t index_;
};

/// A hyper-parameter getter found no such key, or a value of another type.
class hyper_param_error : public model_file_error {
public:
    hyper_param_error(std::string key, const std::string& detail)
        : model_file_error(format(key, detail)), key_(std::move(key)) {}
    const std::string& key() const noexcept { return key_; }

private:
    static std::string format(const std::string& key, const std::string& detail) {
        std::string s = "diffauction: model file: hyper-parameter '";
        s.append(key).append("': ").append(detail);
        return s;
    }
    std::string key_;
};

}  // namespace diffauction
