#pragma once
// A string with %%_name%% placeholders, split once at load time so that rendering is one pass
// of appends. A template with no placeholders renders as its literal text.

#include <cstdint>
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
  /// The user's id (%%_tsung_userid%%), 0 when not known.
  virtual std::uint64_t user_id() const { return 0; }
};

/// A %%module:function%% substitution: appends its value for the user `vars` describes.
using SubstitutionFunction = void (*)(const VariableSource& vars, std::string& out);

/// Registers `fn` as %%name%% (name = "module:function") for every scenario loaded afterwards;
/// run-time plugins call it from their register function. A later registration replaces an
/// earlier one. Built in: ts_user_server:get_unique_id, ts_user_server:get_really_unique_id.
/// Not thread-safe: register before any scenario is loaded and before any engine runs (the
/// registry is a plain table, read without a lock). A Template resolves its calls when it is
/// built, so registering later does not change templates already built.
void register_substitution_function(std::string name, SubstitutionFunction fn);
/// The function registered as `name`, or null.
SubstitutionFunction find_substitution_function(std::string_view name);
/// The registered names, sorted, for error messages.
std::vector<std::string> substitution_function_names();

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

  /// Tsung %%module:function%% calls found when splitting ("module:function"); each is resolved
  /// to its registered function when the template is built, and rendered by calling it (one
  /// with none registered renders as missing). Loaders refuse those (checked_template).
  const std::vector<std::string>& function_calls() const { return calls_; }

  /// Appends the rendered text. Unset variables render as empty and are counted in `missing`.
  void render(const VariableSource* vars, std::string& out, unsigned* missing = nullptr) const;
  std::string render(const VariableSource* vars) const;

 private:
  struct Part {
    std::string text;  // literal text, the variable name, or "module:function"
    bool is_var;
    bool is_call = false;
    SubstitutionFunction function = nullptr;  // of a call, resolved when the template is built
  };
  void append_literal(std::string_view text);
  std::vector<Part> parts_;
  std::vector<std::string> calls_;
};

}  // namespace loadctl
