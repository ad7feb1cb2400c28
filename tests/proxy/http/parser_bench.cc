// CPU cost of lb::http parsing next to Node's http-parser 2.9 (Debian's libhttp-parser), the
// parser Envoy used before Balsa, on the same inputs in the same run.
//
//   bazel run -c opt //tests/proxy/http:parser_bench
//   bazel run -c opt //tests/proxy/http:parser_bench -- --benchmark_filter=request/cookie
//
// Each case parses a complete message head held in memory (the proxy's common case: the whole
// head arrives in one read); "split" cases deliver the head in two reads. Both parsers collect
// the method, target and every header name/value (http-parser through its callbacks). After
// Google Benchmark's own table, a side-by-side summary prints ns/request and requests/s.
#include <http_parser.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "proxy/http/parser.h"

namespace {

using lb::http::ChunkedDecoder;
using lb::http::Method;
using lb::http::ParseResult;
using lb::http::RequestParser;
using lb::http::ResponseParser;

const std::string kCurl =
    "GET /index.html HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: curl/7.88.1\r\n"
    "Accept: */*\r\n"
    "\r\n";

std::string BrowserHeaders() {
  return "Host: www.example.com\r\n"
         "Connection: keep-alive\r\n"
         "sec-ch-ua: \"Chromium\";v=\"118\", \"Google Chrome\";v=\"118\"\r\n"
         "sec-ch-ua-mobile: ?0\r\n"
         "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
         "Chrome/118.0.0.0 Safari/537.36\r\n"
         "sec-ch-ua-platform: \"Linux\"\r\n"
         "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,"
         "*/*;q=0.8\r\n"
         "Sec-Fetch-Site: same-origin\r\n"
         "Sec-Fetch-Mode: navigate\r\n"
         "Referer: https://www.example.com/products/list?page=2\r\n"
         "Accept-Encoding: gzip, deflate, br\r\n"
         "Accept-Language: en-US,en;q=0.9,de;q=0.8\r\n";
}

const std::string kBrowser =
    "GET /products/item/12345?ref=home&utm_source=newsletter HTTP/1.1\r\n" + BrowserHeaders() +
    "\r\n";

std::string CookieRequest() {
  std::string cookie = "Cookie: ";
  for (int i = 0; cookie.size() < 2048; ++i) {
    cookie += "session_token_" + std::to_string(i) + "=a3f9c2e81b7d4f6a9e0c5b2d8f1a7e3c; ";
  }
  return "GET /account/settings HTTP/1.1\r\n" + BrowserHeaders() + cookie + "\r\n\r\n";
}

const std::string kCookie = CookieRequest();

const std::string kPost =
    "POST /api/v1/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: okhttp/4.11.0\r\n"
    "Content-Type: application/json\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0\r\n"
    "Content-Length: 2\r\n"
    "\r\n"
    "{}";

const std::string kResponse =
    "HTTP/1.1 200 OK\r\n"
    "Date: Fri, 24 Nov 2026 06:00:00 GMT\r\n"
    "Server: nginx/1.22.1\r\n"
    "Content-Type: text/html; charset=utf-8\r\n"
    "Content-Length: 5\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: private, max-age=0\r\n"
    "ETag: \"5f8e2a1b-3c4d\"\r\n"
    "Vary: Accept-Encoding\r\n"
    "\r\n"
    "hello";

std::string ChunkedPost() {
  std::string s =
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
      "Content-Type: application/octet-stream\r\n\r\n";
  for (int i = 0; i < 8; ++i) s += "400\r\n" + std::string(1024, 'x') + "\r\n";
  return s + "0\r\n\r\n";
}

const std::string kChunked = ChunkedPost();

// Adds requests/s and bytes/s to Google Benchmark's table.
void Rates(benchmark::State& state, const std::string& in) {
  state.counters["req/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * in.size()));
}

// ---- lb::http ---------------------------------------------------------------------------------

void LbRequest(benchmark::State& state, const std::string& in, size_t split) {
  RequestParser p;
  size_t headers = 0;
  for (auto _ : state) {
    p.Reset();
    ParseResult r;
    if (split != 0) {
      r = p.Parse(in.data(), split);
      benchmark::DoNotOptimize(r);
    }
    r = p.Parse(in.data(), in.size());
    if (!r.done()) state.SkipWithError("lb: request did not parse");
    headers += p.headers().size();
    benchmark::DoNotOptimize(p.target().data());
  }
  benchmark::DoNotOptimize(headers);
  Rates(state, in);
}

void LbResponse(benchmark::State& state, const std::string& in) {
  ResponseParser p;
  for (auto _ : state) {
    p.Reset(Method::kGet);
    const ParseResult r = p.Parse(in.data(), in.size());
    if (!r.done()) state.SkipWithError("lb: response did not parse");
    benchmark::DoNotOptimize(p.headers().data());
  }
  Rates(state, in);
}

void LbChunked(benchmark::State& state, const std::string& in) {
  RequestParser p;
  ChunkedDecoder d;
  size_t payload = 0;
  for (auto _ : state) {
    p.Reset();
    const ParseResult r = p.Parse(in.data(), in.size());
    if (!r.done() || !p.chunked()) state.SkipWithError("lb: chunked request did not parse");
    d.Reset();
    const char* b = in.data() + r.consumed;
    size_t n = in.size() - r.consumed;
    while (true) {
      const ChunkedDecoder::Result c = d.Decode(b, n);
      if (c.status == ChunkedDecoder::Status::kData) {
        payload += c.payload.size();
        b += c.consumed;
        n -= c.consumed;
        continue;
      }
      if (c.status != ChunkedDecoder::Status::kDone) state.SkipWithError("lb: chunked body");
      break;
    }
  }
  benchmark::DoNotOptimize(payload);
  Rates(state, in);
}

// ---- http-parser ------------------------------------------------------------------------------

struct Collected {
  const char* url = nullptr;
  size_t url_len = 0;
  struct Field {
    const char* name;
    size_t name_len;
    const char* value;
    size_t value_len;
  };
  Field fields[128];
  size_t count = 0;
  size_t body = 0;
  bool complete = false;
};

int OnUrl(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<Collected*>(p->data);
  c->url = at;
  c->url_len = len;
  return 0;
}
int OnHeaderField(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->count < 128) c->fields[c->count++] = {at, len, nullptr, 0};
  return 0;
}
int OnHeaderValue(http_parser* p, const char* at, size_t len) {
  auto* c = static_cast<Collected*>(p->data);
  if (c->count > 0) {
    c->fields[c->count - 1].value = at;
    c->fields[c->count - 1].value_len = len;
  }
  return 0;
}
int OnBody(http_parser* p, const char*, size_t len) {
  static_cast<Collected*>(p->data)->body += len;
  return 0;
}
int OnMessageComplete(http_parser* p) {
  static_cast<Collected*>(p->data)->complete = true;
  return 0;
}

http_parser_settings Settings() {
  http_parser_settings s;
  http_parser_settings_init(&s);
  s.on_url = OnUrl;
  s.on_header_field = OnHeaderField;
  s.on_header_value = OnHeaderValue;
  s.on_body = OnBody;
  s.on_message_complete = OnMessageComplete;
  return s;
}

const http_parser_settings kSettings = Settings();

void PeerParse(benchmark::State& state, const std::string& in, http_parser_type type,
               size_t split) {
  http_parser p;
  Collected c;
  for (auto _ : state) {
    http_parser_init(&p, type);
    c.count = 0;
    c.complete = false;
    p.data = &c;
    size_t done = 0;
    if (split != 0) done = http_parser_execute(&p, &kSettings, in.data(), split);
    done += http_parser_execute(&p, &kSettings, in.data() + done, in.size() - done);
    if (done != in.size() || HTTP_PARSER_ERRNO(&p) != HPE_OK || !c.complete) {
      state.SkipWithError("http-parser: did not parse");
    }
    benchmark::DoNotOptimize(c.fields[0].value);
  }
  Rates(state, in);
}

// ---- registration and the side-by-side summary ------------------------------------------------

struct Case {
  const char* name;
  const std::string* input;
  enum Kind { kRequest, kResponse, kChunkedBody } kind;
  size_t split;  // 0: one read
};

std::vector<Case> Cases() {
  return {
      {"request/curl_3_headers", &kCurl, Case::kRequest, 0},
      {"request/browser_12_headers", &kBrowser, Case::kRequest, 0},
      {"request/cookie_2KB", &kCookie, Case::kRequest, 0},
      {"request/post_json", &kPost, Case::kRequest, 0},
      {"request/browser_split_2_reads", &kBrowser, Case::kRequest, kBrowser.size() / 2},
      {"response/200_9_headers", &kResponse, Case::kResponse, 0},
      {"chunked/post_8x1KB", &kChunked, Case::kChunkedBody, 0},
  };
}

class SummaryReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      ns_[run.benchmark_name()] = run.GetAdjustedCPUTime();  // time unit: ns
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    std::printf("\n%-32s %12s %14s %14s %16s %8s\n", "case", "lb ns/req", "peer ns/req", "lb req/s",
                "peer req/s", "speedup");
    for (const Case& c : Cases()) {
      const auto lb = ns_.find(std::string(c.name) + "/lb");
      const auto peer = ns_.find(std::string(c.name) + "/http_parser");
      if (lb == ns_.end() || peer == ns_.end()) continue;
      std::printf("%-32s %12.1f %14.1f %14.0f %16.0f %7.2fx\n", c.name, lb->second, peer->second,
                  1e9 / lb->second, 1e9 / peer->second, peer->second / lb->second);
    }
    std::printf("(peer: http-parser %d.%d, callbacks collecting url and header views)\n",
                HTTP_PARSER_VERSION_MAJOR, HTTP_PARSER_VERSION_MINOR);
  }

 private:
  std::map<std::string, double> ns_;
};

void Register() {
  for (const Case& c : Cases()) {
    const std::string* in = c.input;
    const size_t split = c.split;
    benchmark::internal::Benchmark* lb = nullptr;
    benchmark::internal::Benchmark* peer = nullptr;
    switch (c.kind) {
      case Case::kRequest:
        lb = benchmark::RegisterBenchmark(
            (std::string(c.name) + "/lb").c_str(),
            [in, split](benchmark::State& s) { LbRequest(s, *in, split); });
        peer = benchmark::RegisterBenchmark(
            (std::string(c.name) + "/http_parser").c_str(),
            [in, split](benchmark::State& s) { PeerParse(s, *in, HTTP_REQUEST, split); });
        break;
      case Case::kResponse:
        lb = benchmark::RegisterBenchmark((std::string(c.name) + "/lb").c_str(),
                                          [in](benchmark::State& s) { LbResponse(s, *in); });
        peer = benchmark::RegisterBenchmark(
            (std::string(c.name) + "/http_parser").c_str(),
            [in](benchmark::State& s) { PeerParse(s, *in, HTTP_RESPONSE, 0); });
        break;
      case Case::kChunkedBody:
        lb = benchmark::RegisterBenchmark((std::string(c.name) + "/lb").c_str(),
                                          [in](benchmark::State& s) { LbChunked(s, *in); });
        peer = benchmark::RegisterBenchmark(
            (std::string(c.name) + "/http_parser").c_str(),
            [in](benchmark::State& s) { PeerParse(s, *in, HTTP_REQUEST, 0); });
        break;
    }
    lb->Unit(benchmark::kNanosecond);
    peer->Unit(benchmark::kNanosecond);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Register();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  SummaryReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
