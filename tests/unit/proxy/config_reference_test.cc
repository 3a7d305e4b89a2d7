// configs/reference.yaml must document exactly the keys of proxy/config/schema.cc:
// every schema key appears (with its doc, type and default in the comment just
// above its first use), every key in the file is in the schema, and the file loads.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "proxy/config/config_loader.h"
#include "proxy/config/schema.h"

namespace rampart::config {
namespace {

// The repository root: from this file's path, or $RAMPART_SOURCE_DIR when the
// build strips absolute paths.
std::string repoRoot() {
  if (const char* dir = std::getenv("RAMPART_SOURCE_DIR")) return dir;
  const std::string file = __FILE__;
  const auto at = file.rfind("/tests/unit/proxy/");
  return at == std::string::npos ? "." : file.substr(0, at);
}

std::string referencePath() {
  return repoRoot() + "/configs/reference.yaml";
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// True when the schema declares keys below `path` ("path.x" or "path[].x"), so
// the walk descends; otherwise the value is opaque (a scalar list, or a free map
// such as routes[].match.headers).
bool schemaHasChildren(const std::string& path) {
  for (const SchemaKey& key : configSchema()) {
    const std::string_view p = key.path;
    if (p.substr(0, path.size() + 1) == path + "." ||
        p.substr(0, path.size() + 3) == path + "[].") {
      return true;
    }
  }
  return false;
}

// Schema-style key paths ("routes[].match.path_prefix") of every key in `node`,
// each mapped to the 0-based line of its first occurrence.
void collectKeyPaths(const YAML::Node& node, const std::string& prefix,
                     std::map<std::string, int>& out) {
  if (!node.IsMap()) return;
  for (const auto& kv : node) {
    const std::string path = prefix.empty() ? kv.first.Scalar() : prefix + "." + kv.first.Scalar();
    out.emplace(path, kv.first.Mark().line);
    if (!schemaHasChildren(path)) continue;
    if (kv.second.IsMap()) collectKeyPaths(kv.second, path, out);
    if (kv.second.IsSequence()) {
      for (const YAML::Node& item : kv.second) collectKeyPaths(item, path + "[]", out);
    }
  }
}

std::map<std::string, int> keyPathsOf(const std::string& yaml) {
  std::map<std::string, int> out;
  collectKeyPaths(YAML::Load(yaml), "", out);
  return out;
}

// The comment line that states a key's type and default, as the reference writes it.
std::string typeLine(const SchemaKey& key) {
  std::string line = "# " + std::string(key.type);
  if (key.required) return line + ", required";
  if (key.default_value.empty()) return line + ", optional";
  return line + ", default: " + std::string(key.default_value);
}

// The comment lines directly above 0-based `line`, without indentation.
std::vector<std::string> commentBlockAbove(const std::vector<std::string>& lines, int line) {
  std::vector<std::string> block;
  for (int i = line - 1; i >= 0; --i) {
    const auto start = lines[i].find_first_not_of(' ');
    if (start == std::string::npos || lines[i][start] != '#') break;
    block.push_back(lines[i].substr(start));
  }
  return block;
}

TEST(ConfigReference, Loads) {
  // The reference names example certificate files that are not in the repository.
  const LoadResult r = loadConfigFile(referencePath(), {.read_files = false});
  ASSERT_TRUE(r.errors.empty()) << r.errors.front();
  ASSERT_TRUE(r.config);
  EXPECT_EQ(r.config->routes.size(), 3u);
  EXPECT_EQ(r.config->routes[1].clusters.size(), 2u);
  EXPECT_TRUE(r.config->routes[1].timeout.learned);
  EXPECT_TRUE(r.config->routes[2].timeout.learned);
  EXPECT_FALSE(r.config->routes[0].timeout.learned);
}

TEST(ConfigReference, EverySchemaKeyIsInTheReference) {
  const auto paths = keyPathsOf(readFile(referencePath()));
  ASSERT_FALSE(paths.empty()) << "cannot read " << referencePath();
  for (const SchemaKey& key : configSchema()) {
    EXPECT_TRUE(paths.count(std::string(key.path))) << "not in the reference: " << key.path;
  }
}

TEST(ConfigReference, EveryReferenceKeyIsInTheSchema) {
  for (const auto& [path, line] : keyPathsOf(readFile(referencePath()))) {
    EXPECT_TRUE(findSchemaKey(path))
        << "reference.yaml:" << line + 1 << ": '" << path << "' is not in the schema";
  }
}

TEST(ConfigReference, EachKeyIsDocumentedWhereItFirstAppears) {
  const std::string text = readFile(referencePath());
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  const auto paths = keyPathsOf(text);
  for (const SchemaKey& key : configSchema()) {
    const auto it = paths.find(std::string(key.path));
    if (it == paths.end()) continue;  // reported by EverySchemaKeyIsInTheReference
    const auto block = commentBlockAbove(lines, it->second);
    const std::string doc = "# " + std::string(key.doc);
    EXPECT_NE(std::find(block.begin(), block.end(), doc), block.end())
        << "reference.yaml:" << it->second + 1 << ": '" << key.path << "' needs the comment\n"
        << doc;
    EXPECT_NE(std::find(block.begin(), block.end(), typeLine(key)), block.end())
        << "reference.yaml:" << it->second + 1 << ": '" << key.path << "' needs the comment\n"
        << typeLine(key);
  }
}

// The walk itself: would these tests notice drift?
TEST(ConfigReferenceWalk, ListsItemsAsBracketsAndStopsAtOpaqueValues) {
  const auto paths = keyPathsOf(
      "admin: {address: x}\n"
      "routes:\n"
      "  - name: r\n"
      "    match: {headers: {x-tenant: a}, methods: [GET]}\n"
      "    clusters: [{name: a, weight: 1}]\n"
      "    timeout: {quantile: 0.5}\n"
      "  - timeout: 2s\n");
  std::vector<std::string> keys;
  for (const auto& [path, line] : paths) keys.push_back(path);
  EXPECT_EQ(keys, (std::vector<std::string>{
                      "admin", "admin.address", "routes", "routes[].clusters",
                      "routes[].clusters[].name", "routes[].clusters[].weight", "routes[].match",
                      "routes[].match.headers", "routes[].match.methods", "routes[].name",
                      "routes[].timeout", "routes[].timeout.quantile"}));
  EXPECT_EQ(paths.at("routes[].timeout"), 5);  // the first occurrence wins
}

TEST(ConfigReferenceWalk, AMisspelledKeyIsNotInTheSchema) {
  const auto paths = keyPathsOf("limits: {max_header_byte: 1}\nclusters: [{name: a, lbb: x}]\n");
  EXPECT_TRUE(paths.count("limits.max_header_byte"));
  EXPECT_FALSE(findSchemaKey("limits.max_header_byte"));
  EXPECT_TRUE(paths.count("clusters[].lbb"));
  EXPECT_FALSE(findSchemaKey("clusters[].lbb"));
}

TEST(ConfigReferenceWalk, TypeLineFormats) {
  EXPECT_EQ(typeLine(*findSchemaKey("listeners")), "# list, required");
  EXPECT_EQ(typeLine(*findSchemaKey("limits.max_header_bytes")), "# size, default: 64KiB");
  EXPECT_EQ(typeLine(*findSchemaKey("routes[].match.host")), "# string, optional");
}

TEST(ConfigSchema, PathsAreUniqueAndParentsAreDeclaredFirst) {
  std::map<std::string, size_t> index;
  const auto& schema = configSchema();
  for (size_t i = 0; i < schema.size(); ++i) {
    EXPECT_TRUE(index.emplace(std::string(schema[i].path), i).second)
        << "duplicate " << schema[i].path;
    EXPECT_FALSE(schema[i].doc.empty()) << schema[i].path;
    EXPECT_FALSE(schema[i].required && !schema[i].default_value.empty())
        << schema[i].path << ": a required key cannot have a default";
  }
  for (const auto& [path, i] : index) {
    auto cut = path.find_last_of('.');
    if (cut == std::string::npos) continue;
    std::string parent = path.substr(0, cut);
    if (parent.size() > 2 && parent.substr(parent.size() - 2) == "[]")
      parent.resize(parent.size() - 2);
    ASSERT_TRUE(index.count(parent)) << path << " has no parent " << parent;
    EXPECT_LT(index[parent], i) << parent << " must come before " << path;
  }
  EXPECT_EQ(findSchemaKey("routes[].timeout.max"), &schema[index["routes[].timeout.max"]]);
  EXPECT_EQ(findSchemaKey("routes[].timeout.maximum"), nullptr);
}

}  // namespace
}  // namespace rampart::config
