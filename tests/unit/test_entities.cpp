// Bounds of XML entity expansion (src/scenario/entities.cpp): the work, the files read, the
// source map's size; and agents refusing entity declarations.

#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include <gtest/gtest.h>

#include "fake_protocol.hpp"
#include "loadctl/scenario.hpp"
#include "loadctl/scenario_error.hpp"
#include "scenario/entities.hpp"

namespace {

namespace fs = std::filesystem;
using namespace loadctl;
using loadctl::detail::expand_entities;

/// A document whose DOCTYPE declares `declarations` and whose body is `body`.
std::string document(const std::string& declarations, const std::string& body) {
  return "<?xml version=\"1.0\"?>\n<!DOCTYPE tsung [\n" + declarations + "]>\n<tsung>" + body + "</tsung>\n";
}

/// `levels` entities l1..ln, each referencing the one below `fanout` times; l0 is `leaf`.
std::string laughs(const std::string& leaf, int levels, int fanout) {
  std::string out = "<!ENTITY l0 \"" + leaf + "\">\n";
  for (int n = 1; n <= levels; ++n) {
    out += "<!ENTITY l" + std::to_string(n) + " \"";
    for (int i = 0; i < fanout; ++i) out += "&l" + std::to_string(n - 1) + ";";
    out += "\">\n";
  }
  return out;
}

ScenarioError expansion_error(const std::string& text, const std::string& dir = ".",
                              std::size_t max_bytes = 16u << 20) {
  try {
    expand_entities(text, "main.xml", dir, max_bytes, true);
  } catch (const ScenarioError& e) {
    return e;
  }
  ADD_FAILURE() << "expanded";
  return ScenarioError("", 0, 0, "", "");
}

TEST(EntityLimits, EmptyEntitiesReferencedBillionsOfTimesStopAtTheReferenceLimit) {
  // 100^8 references expanding to nothing: no output limit is ever reached.
  ScenarioError e = expansion_error(document(laughs("", 7, 100), "&l7;"));
  EXPECT_NE(e.message().find("entity expansion exceeds 1000000 references (loadctl's limit)"), std::string::npos)
      << e.what();
  EXPECT_EQ(e.file(), "main.xml");
  EXPECT_GT(e.line(), 2);
}

TEST(EntityLimits, OneByteEntitiesStopAtTheReferenceLimitBeforeAPiecePerByte) {
  // 2 x 16^5 bytes of output, well under the output limit, but more than 1 M references.
  ScenarioError e = expansion_error(document(laughs("a", 5, 16), "&l5;&l5;"));
  EXPECT_NE(e.message().find("exceeds 1000000 references"), std::string::npos) << e.what();
  // Under the limit it expands, with at most two pieces per reference.
  auto ok = expand_entities(document(laughs("a", 4, 16), "&l4;"), "main.xml", ".", 16u << 20, true);
  EXPECT_EQ(ok.text.find(std::string(65536, 'a')) != std::string::npos, true);
  EXPECT_LE(ok.map.piece_count(), 2u * (1 + 16 + 256 + 4096 + 65536) + 1);
}

TEST(EntityLimits, ContiguousPiecesOfAFileAreMerged) {
  detail::SourceMap map;
  map.add_file("f.xml", "abc\ndefghijklm");
  map.add_piece(0, 3, 0, 0);
  map.add_piece(3, 2, 0, 3);  // continues the first in both texts
  EXPECT_EQ(map.piece_count(), 1u);
  map.add_piece(5, 1, 0, 10);  // not contiguous in the file
  EXPECT_EQ(map.piece_count(), 2u);
  EXPECT_EQ(map.locate(4).position.line, 2);
  EXPECT_EQ(map.locate(4).position.column, 1);
  EXPECT_EQ(map.locate(5).position.column, 7);
}

struct Files {
  fs::path dir = fs::temp_directory_path() / ("loadctl-entities-" + std::to_string(::getpid()));
  Files() { fs::create_directories(dir / "sub"); }
  ~Files() { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) const { std::ofstream(dir / name) << text; }
};

TEST(EntityLimits, AnExternalFileIsReadOnceHoweverOftenAndHoweverItIsNamed) {
  Files files;
  files.write("sub/s.xml", "<?xml version=\"1.0\"?><x/>");
  std::string text = document("<!ENTITY a SYSTEM \"sub/s.xml\">\n<!ENTITY b SYSTEM \"sub/../sub/s.xml\">\n",
                              "&a;&a;&b;&a;");
  auto out = expand_entities(text, "main.xml", files.dir.string(), 16u << 20, true);
  EXPECT_EQ(out.map.file_count(), 2u);  // the scenario and sub/s.xml
  EXPECT_NE(out.text.find("<tsung><x/><x/><x/><x/></tsung>"), std::string::npos) << out.text;
}

TEST(EntityLimits, BytesOfEntityFilesReadCountAgainstTheLimit) {
  Files files;
  // 600 bytes read each, 1 byte of output each: the output stays tiny.
  std::string big = "<?xml version=\"1.0\"" + std::string(578, ' ') + "?>x";
  files.write("a.xml", big);
  files.write("b.xml", big);
  std::string text = document("<!ENTITY a SYSTEM \"a.xml\">\n<!ENTITY b SYSTEM \"b.xml\">\n", "&a;&b;");
  ScenarioError e = expansion_error(text, files.dir.string(), 1000);
  EXPECT_NE(e.message().find("entity expansion exceeds 1000 bytes of entity files read (loadctl's limit)"),
            std::string::npos)
      << e.what();
  EXPECT_EQ(e.line(), 6);
  EXPECT_EQ(e.column(), 11);  // &b;
}

TEST(EntityLimits, AgentsRefuseEntityDeclarationsTheControllerWouldHaveExpanded) {
  std::string text = "<?xml version=\"1.0\"?>\n<!DOCTYPE tsung [\n  <!ENTITY x \"y\">\n]>\n<tsung>&x;</tsung>\n";
  std::vector<DataFile> shipped;
  try {
    load_scenario_text(text, "x.xml", fake::fake_registry(), &shipped);
    ADD_FAILURE() << "loaded";
  } catch (const ScenarioError& e) {
    EXPECT_NE(e.message().find("entities are expanded by the controller"), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), 3);
    EXPECT_EQ(e.column(), 3);
  }
  // What a controller ships (declarations blanked) still loads past the entity stage.
  auto expanded = expand_entities(text, "x.xml", ".", 16u << 20, true);
  EXPECT_NO_THROW(expand_entities(expanded.text, "x.xml", ".", 16u << 20, false));
}

}  // namespace
