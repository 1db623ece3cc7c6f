#pragma once
// A string with %%_name%% placeholders, split once at load time so that rendering is one pass
// of appends. A template with no placeholders renders as its literal text.

#include <string>
#include <string_view>
#include <vector>

namespace loadctl {

/// Resolves a variable name (without the %%_ %% decoration) for one user.
class VariableSource {
 public:
  virtual ~VariableSource() = default;
  /// Appends the value of `name` to `out`; false when the variable is not set.
  virtual bool append(std::string_view name, std::string& out) const = 0;
};

class Template {
 public:
  Template() = default;
  /// Splits `text` on %%_name%% when `substitute` is true; otherwise keeps it literal.
  Template(std::string_view text, bool substitute);

  bool is_literal() const { return parts_.size() <= 1 && (parts_.empty() || !parts_[0].is_var); }
  /// The literal text; meaningful only when is_literal().
  std::string_view literal() const { return parts_.empty() ? std::string_view{} : parts_[0].text; }
  /// Names of the variables used, in order of appearance.
  std::vector<std::string_view> variables() const;

  /// Tsung %%module:function%% calls found when splitting ("module:function"), kept as literal
  /// text here; loaders reject them (see checked_template in xml_reader.hpp).
  const std::vector<std::string>& function_calls() const { return calls_; }

  /// Appends the rendered text. Unset variables render as empty and are counted in `missing`.
  void render(const VariableSource* vars, std::string& out, unsigned* missing = nullptr) const;
  std::string render(const VariableSource* vars) const;

 private:
  struct Part {
    std::string text;  // literal text, or the variable name
    bool is_var;
  };
  void append_literal(std::string_view text);
  std::vector<Part> parts_;
  std::vector<std::string> calls_;
};

}  // namespace loadctl
