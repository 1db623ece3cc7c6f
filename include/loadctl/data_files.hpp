#pragma once
// file_server files (<option name="file_server">) as setdynvars sourcetype="file" and ts_jabber's
// random_from_fileid / offline_from_fileid read them.

#include <algorithm>
#include <string_view>
#include <vector>

#include "loadctl/dynamics.hpp"

namespace loadctl {

/// The field of `line` before `delimiter` (all of it when there is none); `line` moves past the
/// delimiter, or becomes empty: missing fields read as empty.
inline std::string_view take_field(std::string_view& line, std::string_view delimiter) {
  std::size_t end = line.find(delimiter);
  std::string_view field = line.substr(0, end);
  line = end == std::string_view::npos ? std::string_view{} : line.substr(end + delimiter.size());
  return field;
}

/// The file of `id` among a scenario's file_server options, or null.
inline const DataFile* find_data_file(const std::vector<DataFile>& files, std::string_view id) {
  auto it = std::find_if(files.begin(), files.end(), [&](const DataFile& f) { return f.id == id; });
  return it == files.end() ? nullptr : &*it;
}

}  // namespace loadctl
