#pragma once
// A VariableSource backed by a map, for tests that render templates or encode requests.

#include <map>
#include <string>
#include <string_view>

#include "loadctl/template.hpp"

namespace loadctl::test {

class MapVars final : public VariableSource {
 public:
  std::map<std::string, std::string, std::less<>> values;
  bool append(std::string_view name, std::string& out) const override {
    auto it = values.find(name);
    if (it == values.end()) return false;
    out += it->second;
    return true;
  }
};

}  // namespace loadctl::test
