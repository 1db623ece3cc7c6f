#pragma once
// Tsung's <dyn_variable pgsql_expr="...">: ts_search hands the reply's messages to
// ts_pgsql:find_pair, which reads the N-th message of a kind:
//   data_row[R][C]        column C (1-based) of the R-th DataRow
//   data_row[R].name      the column called `name` (from the reply's first RowDescription)
//   row_description[R][C][F]  field F of column C's description in the R-th RowDescription
//                         (1 name, 2 text|binary, 3 column number, 4 type oid, 5 type size,
//                         6 type modifier, 7 table oid)
// `key.R.C` is the same as `key[R][C]`. What is not found leaves the variable empty.

#include <string>
#include <string_view>

#include "loadctl/dynamics.hpp"

namespace loadctl::pgsql {

class PgsqlExpr final : public DynExtractor {
 public:
  /// Throws std::invalid_argument naming what is wrong or not supported.
  explicit PgsqlExpr(std::string_view expr);
  bool extract(std::string_view reply, std::string& out) const override;

 private:
  bool data_row;             ///< else row_description
  unsigned row = 0;          ///< 1-based, among the messages of that kind
  unsigned column = 0;       ///< 1-based; 0 with a column name
  std::string column_name;
  unsigned field = 0;        ///< row_description's F
};

}  // namespace loadctl::pgsql
