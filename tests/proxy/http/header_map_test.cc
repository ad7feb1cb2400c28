#include "proxy/http/header_map.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace lb::http {
namespace {

std::string Fields(const HeaderMap& map) {
  std::vector<std::string> out;
  map.ForEach(
      [&out](const HeaderMap::Field& f) { out.push_back(absl::StrCat(f.name, "=", f.value)); });
  return absl::StrJoin(out, ";");
}

// A map over `head` with one raw field per "name: value" line (as a codec builds it).
void FillRaw(absl::string_view head, HeaderMap& map) {
  map.AssignRaw(head);
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find("\r\n", pos);
    absl::string_view line = head.substr(pos, eol + 2 - pos);
    size_t colon = line.find(':');
    absl::string_view value = line.substr(colon + 1, line.size() - colon - 3);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    map.AddRaw(line.substr(0, colon), value, line);
    pos = eol + 2;
  }
}

TEST(HeaderMapTest, RawFieldsOutliveTheirBytesAndKeepTheirLines) {
  RequestHeaderMap map;
  {
    std::string head = "Host: a\r\nX-Y:  two \t\r\n";
    FillRaw(head, map);
    head.assign(head.size(), '#');  // The original bytes are gone.
  }
  EXPECT_EQ(Fields(map), "Host=a;X-Y=two \t");
  std::string out;
  map.AppendHttp1(&out);
  EXPECT_EQ(out, "Host: a\r\nX-Y:  two \t\r\n");
  EXPECT_EQ(map.size(), 2u);
}

TEST(HeaderMapTest, FindIsCaseInsensitiveAndRemoveTakesAll) {
  RequestHeaderMap map;
  FillRaw("A: 1\r\nb: 2\r\nB: 3\r\n", map);
  ASSERT_TRUE(map.Find("a").has_value());
  EXPECT_EQ(map.Find("B")->value, "2");
  EXPECT_FALSE(map.Find("c").has_value());
  EXPECT_EQ(map.Remove("b"), 2u);
  EXPECT_EQ(Fields(map), "A=1");
  EXPECT_EQ(map.size(), 1u);
}

TEST(HeaderMapTest, AddedFieldsFollowAndBreakRuns) {
  RequestHeaderMap map;
  FillRaw("A: 1\r\nB: 2\r\nC: 3\r\n", map);
  map.RemoveIf([](const HeaderMap::Field& f) { return f.name == "B"; });
  for (int i = 0; i < 50; ++i) map.Add(absl::StrCat("N", i), "v");  // Grows the storage.
  std::string out;
  map.AppendHttp1(&out);
  std::string want = "A: 1\r\nC: 3\r\n";
  for (int i = 0; i < 50; ++i) absl::StrAppend(&want, "N", i, ": v\r\n");
  EXPECT_EQ(out, want);
}

TEST(HeaderMapTest, TypedViewsStayValidWhileFieldsAreAdded) {
  RequestHeaderMap map;
  std::string head = "GET /p HTTP/1.1\r\nHost: h\r\n";
  map.AssignRaw(head);
  map.target = map.Translate(absl::string_view(head).substr(4, 2));
  for (int i = 0; i < 100; ++i) map.Add("X", std::string(100, 'x'));
  EXPECT_EQ(map.target, "/p");
}

TEST(HeaderMapTest, PathOfAbsoluteFormTargets) {
  RequestHeaderMap map;
  map.target = "http://a.example:8080/x/y?z";
  EXPECT_EQ(map.Path(), "/x/y?z");
  map.target = "http://a.example";
  EXPECT_EQ(map.Path(), "/");
  map.target = "/plain";
  EXPECT_EQ(map.Path(), "/plain");
}

TEST(HeaderMapTest, RecycledMapsStartFresh) {
  RequestHeaderMap* first;
  {
    RequestHeaderMapPtr map = NewRequestHeaderMap();
    first = map.get();
    map->method = Method::kPost;
    map->has_host = true;
    map->content_length = 7;
    map->expect_100_continue = true;
    map->upgrade = "websocket";
    map->Add("A", "1");
  }
  RequestHeaderMapPtr again = NewRequestHeaderMap();
  EXPECT_EQ(again.get(), first);  // The same storage, handed out again on this thread.
  EXPECT_EQ(again->size(), 0u);
  EXPECT_EQ(again->method, Method::kGet);
  EXPECT_FALSE(again->has_host);
  EXPECT_FALSE(again->content_length.has_value());
  EXPECT_FALSE(again->expect_100_continue);
  EXPECT_TRUE(again->upgrade.empty());

  ResponseHeaderMapPtr response = NewResponseHeaderMap();
  response->status = 503;
  response->content_length = 3;
  response.reset();
  ResponseHeaderMapPtr fresh = NewResponseHeaderMap();
  EXPECT_EQ(fresh->status, 200);
  EXPECT_FALSE(fresh->content_length.has_value());
}

}  // namespace
}  // namespace lb::http
