#include "bench/loadgen/options.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace rampart::loadgen {
namespace {

std::string trim(const std::string& s) {
  const size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::optional<double> parseNumber(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t used = 0;
  try {
    const double v = std::stod(text, &used);
    if (used != text.size() || !std::isfinite(v)) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

std::optional<uint64_t> parseUnsigned(const std::string& text) {
  const std::optional<double> v = parseNumber(text);
  if (!v || *v < 0 || *v != std::floor(*v) || *v > 1e18) return std::nullopt;
  return static_cast<uint64_t>(*v);
}

// "http://host:port/path" (http only: the generator speaks cleartext HTTP/1.1).
std::optional<std::string> applyUrl(const std::string& url, Options& o) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return "only http:// URLs are supported: " + url;
  const std::string rest = url.substr(scheme.size());
  const size_t slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  o.path = slash == std::string::npos ? "/" : rest.substr(slash);
  const size_t colon = authority.rfind(':');
  o.host = authority.substr(0, colon);
  if (colon == std::string::npos) {
    o.port = 80;
  } else {
    const std::optional<uint64_t> port = parseUnsigned(authority.substr(colon + 1));
    if (!port || *port == 0 || *port > 65535) return "bad port in URL: " + url;
    o.port = static_cast<uint16_t>(*port);
  }
  if (o.host.empty()) return "no host in URL: " + url;
  return std::nullopt;
}

// "critical=0.1,normal=0.6,sheddable=0.3"
std::optional<std::string> applyPriorityMix(const std::string& text, Options& o) {
  std::stringstream in(text);
  std::string item;
  o.priorities.clear();
  while (std::getline(in, item, ',')) {
    const size_t eq = item.find('=');
    const std::string name = trim(item.substr(0, eq));
    const double weight =
        eq == std::string::npos ? -1.0 : parseNumber(trim(item.substr(eq + 1))).value_or(-1.0);
    if (weight < 0 || name.empty()) return "bad --priority-mix item: '" + item + "'";
    o.priorities.push_back({name, weight});
  }
  double total = 0;
  for (const PriorityClass& p : o.priorities) total += p.weight;
  if (o.priorities.empty() || total <= 0) return "--priority-mix needs a positive weight";
  return std::nullopt;
}

using Setter = std::function<std::optional<std::string>(const std::string&, Options&)>;

Setter durationSetter(Nanos Options::*field, bool allowZero) {
  return [field, allowZero](const std::string& v, Options& o) -> std::optional<std::string> {
    const std::optional<Nanos> d = parseDuration(v);
    if (!d || d->count() < 0 || (!allowZero && d->count() == 0)) return "bad duration: " + v;
    o.*field = *d;
    return std::nullopt;
  };
}

const std::map<std::string, Setter>& setters() {
  static const std::map<std::string, Setter> table = {
      {"url", applyUrl},
      {"host",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         o.host = v;
         return std::nullopt;
       }},
      {"port",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         const std::optional<uint64_t> p = parseUnsigned(v);
         if (!p || *p == 0 || *p > 65535) return "bad --port: " + v;
         o.port = static_cast<uint16_t>(*p);
         return std::nullopt;
       }},
      {"path",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         if (v.empty() || v[0] != '/') return "--path must start with /";
         o.path = v;
         return std::nullopt;
       }},
      {"method",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         if (v.empty() || v.find_first_of(" \r\n") != std::string::npos) return "bad --method";
         o.method = v;
         return std::nullopt;
       }},
      {"body",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         o.body = v;
         return std::nullopt;
       }},
      {"body-file",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         std::ifstream in(v, std::ios::binary);
         if (!in) return "cannot read --body-file " + v;
         std::ostringstream data;
         data << in.rdbuf();
         o.body = data.str();
         return std::nullopt;
       }},
      {"header",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         const size_t colon = v.find(':');
         if (colon == std::string::npos || colon == 0 || v.find_first_of("\r\n") != v.npos)
           return "--header needs 'Name: value': " + v;
         o.headers.push_back(trim(v.substr(0, colon)) + ": " + trim(v.substr(colon + 1)));
         return std::nullopt;
       }},
      {"rate",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         const std::optional<double> r = parseNumber(v);
         if (!r || *r <= 0 || *r > 1e7) return "bad --rate: " + v;
         o.rate = *r;
         return std::nullopt;
       }},
      {"duration", durationSetter(&Options::duration, false)},
      {"warmup", durationSetter(&Options::warmup, true)},
      {"timeout", durationSetter(&Options::timeout, false)},
      {"timeline-interval", durationSetter(&Options::timelineInterval, false)},
      {"arrival",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         if (v == "exponential" || v == "poisson") {
           o.arrival = Arrival::kExponential;
         } else if (v == "uniform") {
           o.arrival = Arrival::kUniform;
         } else {
           return "--arrival is exponential or uniform";
         }
         return std::nullopt;
       }},
      {"priority-mix", applyPriorityMix},
      {"priority-header",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         if (v.empty() || v.find_first_of(" :\r\n") != std::string::npos)
           return "bad --priority-header";
         o.priorityHeader = v;
         return std::nullopt;
       }},
      {"max-connections",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         const std::optional<uint64_t> n = parseUnsigned(v);
         if (!n || *n == 0 || *n > 1000000) return "bad --max-connections: " + v;
         o.maxConnections = static_cast<size_t>(*n);
         return std::nullopt;
       }},
      {"seed",
       [](const std::string& v, Options& o) -> std::optional<std::string> {
         const std::optional<uint64_t> n = parseUnsigned(v);
         if (!n) return "bad --seed: " + v;
         o.seed = *n;
         return std::nullopt;
       }},
  };
  return table;
}

}  // namespace

std::optional<Nanos> parseDuration(const std::string& text) {
  static const std::pair<const char*, double> kUnits[] = {
      {"us", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"m", 60e9}};
  for (const auto& [suffix, scale] : kUnits) {
    const std::string s(suffix);
    if (text.size() > s.size() && text.compare(text.size() - s.size(), s.size(), s) == 0) {
      const std::optional<double> v = parseNumber(text.substr(0, text.size() - s.size()));
      if (!v || *v < 0 || *v > 1e6) return std::nullopt;
      return Nanos(static_cast<int64_t>(std::llround(*v * scale)));
    }
  }
  const std::optional<double> v = parseNumber(text);  // bare number: seconds
  if (!v || *v < 0 || *v > 1e6) return std::nullopt;
  return Nanos(static_cast<int64_t>(std::llround(*v * 1e9)));
}

ParseResult parseOptions(int argc, const char* const* argv) {
  ParseResult result;
  Options o;
  bool methodGiven = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      result.help = true;
      return result;
    }
    if (arg.rfind("--", 0) != 0) {
      result.error = "unexpected argument: " + arg;
      return result;
    }
    std::string name = arg.substr(2), value;
    const size_t eq = name.find('=');
    if (eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      result.error = "--" + name + " needs a value";
      return result;
    }
    const auto it = setters().find(name);
    if (it == setters().end()) {
      result.error = "unknown option --" + name;
      return result;
    }
    if (std::optional<std::string> error = it->second(value, o)) {
      result.error = *error;
      return result;
    }
    methodGiven = methodGiven || name == "method";
  }
  if (o.rate <= 0) {
    result.error = "--rate is required";
    return result;
  }
  if (!methodGiven && !o.body.empty()) o.method = "POST";
  result.options = o;
  return result;
}

std::string usage() {
  return R"(rampart_loadgen: open-loop HTTP/1.1 load at a constant arrival rate; JSON on stdout.

Each request is scheduled at its intended start time, independent of responses,
and its latency is measured from that time (no coordinated omission). Requests
go over keep-alive connections; a request never waits for a busy connection:
a new one is opened, up to --max-connections (hits of the cap are counted).

  --url http://HOST:PORT/PATH     target (or --host, --port, --path)
  --method M                      default GET (POST when a body is given)
  --body TEXT | --body-file F     request body (Content-Length is added)
  --header 'Name: value'          extra header, repeatable
  --rate R                        requests per second (required)
  --duration D                    measured time, default 10s (units: us ms s m)
  --warmup D                      sent before the measured time, not counted; default 0
  --timeout D                     per request from its intended start, default 10s
  --arrival exponential|uniform   inter-arrival gaps, default exponential (Poisson)
  --priority-mix 'critical=0.1,normal=0.6,sheddable=0.3'
                                  set the priority header per request at random
  --priority-header NAME          default x-priority
  --timeline-interval D           default 1s
  --max-connections N             default 2000
  --seed N                        default 1
)";
}

}  // namespace rampart::loadgen
