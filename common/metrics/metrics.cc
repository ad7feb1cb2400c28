#include "common/metrics/metrics.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace lb::metrics {

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  std::sort(bounds_.begin(), bounds_.end());
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  if (v > 0)
    sum_micros_.fetch_add(static_cast<uint64_t>(std::llround(v * 1e6)), std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::BucketCounts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

double Histogram::Sum() const { return sum_micros_.load(std::memory_order_relaxed) / 1e6; }

std::vector<double> DefaultLatencyBounds() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

Registry::Family& Registry::FamilyLocked(const std::string& name, const std::string& help,
                                         Type type) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

Counter* Registry::GetCounter(const std::string& name, const std::string& help,
                              const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyLocked(name, help, Type::kCounter).counters[labels];
  if (!slot) slot = std::make_unique<Counter>();
  return slot.get();
}

Gauge* Registry::GetGauge(const std::string& name, const std::string& help, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyLocked(name, help, Type::kGauge).gauges[labels];
  if (!slot) slot = std::make_unique<Gauge>();
  return slot.get();
}

Histogram* Registry::GetHistogram(const std::string& name, const std::string& help,
                                  const Labels& labels, std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  auto& slot = FamilyLocked(name, help, Type::kHistogram).histograms[labels];
  if (!slot) slot = std::make_unique<Histogram>(std::move(bounds));
  return slot.get();
}

namespace {

std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` with an optional extra label appended; empty when there are none.
std::string LabelText(const Labels& labels, const std::string& extra_name = "",
                      const std::string& extra_value = "") {
  std::vector<std::string> parts;
  for (const auto& [k, v] : labels) parts.push_back(absl::StrCat(k, "=\"", Escape(v), "\""));
  if (!extra_name.empty()) parts.push_back(absl::StrCat(extra_name, "=\"", extra_value, "\""));
  if (parts.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < parts.size(); ++i) absl::StrAppend(&out, i ? "," : "", parts[i]);
  return out + "}";
}

std::string Number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  return absl::StrCat(v);
}

// Collected samples, grouped into families.
class CollectedSamples final : public SampleSink {
 public:
  struct Family {
    const char* type = "counter";
    std::string help;
    // Series suffix ("", "_bucket", "_sum", "_count"), labels, value already formatted.
    struct Sample {
      const char* suffix;
      Labels labels;
      std::string value;
    };
    std::vector<Sample> samples;
  };
  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               uint64_t value) override {
    Add(name, help, "counter").samples.push_back({"", labels, absl::StrCat(value)});
  }
  void Gauge(const std::string& name, const std::string& help, const Labels& labels,
             double value) override {
    // Whole values (counts) in full, never in exponent form.
    bool whole = value == std::floor(value) && std::fabs(value) < 9e15;
    Add(name, help, "gauge")
        .samples.push_back(
            {"", labels, whole ? absl::StrCat(static_cast<int64_t>(value)) : Number(value)});
  }
  void Histogram(const std::string& name, const std::string& help, const Labels& labels,
                 const std::vector<double>& bounds, const std::vector<uint64_t>& counts,
                 double sum) override {
    Family& f = Add(name, help, "histogram");
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      Labels with_le = labels;
      with_le.emplace_back("le", i < bounds.size() ? Number(bounds[i]) : "+Inf");
      f.samples.push_back({"_bucket", std::move(with_le), absl::StrCat(cumulative)});
    }
    f.samples.push_back({"_sum", labels, Number(sum)});
    f.samples.push_back({"_count", labels, absl::StrCat(cumulative)});
  }
  std::map<std::string, Family> families;

 private:
  Family& Add(const std::string& name, const std::string& help, const char* type) {
    auto [it, inserted] = families.try_emplace(name);
    if (inserted) {
      it->second.type = type;
      it->second.help = help;
    }
    return it->second;
  }
};

}  // namespace

void Registry::AddCollector(std::function<void(SampleSink&)> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() const {
  std::vector<std::function<void(SampleSink&)>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  CollectedSamples collected;
  for (const auto& collect : collectors) collect(collected);

  absl::MutexLock lock(&mu_);
  std::string out;
  auto render_collected = [&out](const std::string& name, const CollectedSamples::Family& f,
                                 bool with_header) {
    if (with_header) {
      absl::StrAppend(&out, "# HELP ", name, " ", f.help, "\n# TYPE ", name, " ", f.type, "\n");
    }
    for (const auto& s : f.samples) {
      absl::StrAppend(&out, name, s.suffix, LabelText(s.labels), " ", s.value, "\n");
    }
  };
  auto next_collected = collected.families.begin();
  for (const auto& [name, family] : families_) {
    for (; next_collected != collected.families.end() && next_collected->first < name;
         ++next_collected) {
      render_collected(next_collected->first, next_collected->second, true);
    }
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    absl::StrAppend(&out, "# HELP ", name, " ", family.help, "\n# TYPE ", name, " ", type, "\n");
    if (next_collected != collected.families.end() && next_collected->first == name) {
      render_collected(name, next_collected->second, false);  // Same family: one header.
      ++next_collected;
    }
    for (const auto& [labels, c] : family.counters) {
      absl::StrAppend(&out, name, LabelText(labels), " ", c->Value(), "\n");
    }
    for (const auto& [labels, g] : family.gauges) {
      absl::StrAppend(&out, name, LabelText(labels), " ", g->Value(), "\n");
    }
    for (const auto& [labels, h] : family.histograms) {
      std::vector<uint64_t> counts = h->BucketCounts();
      uint64_t cumulative = 0;
      for (size_t i = 0; i < counts.size(); ++i) {
        cumulative += counts[i];
        std::string le = i < h->bounds().size() ? Number(h->bounds()[i]) : "+Inf";
        absl::StrAppend(&out, name, "_bucket", LabelText(labels, "le", le), " ", cumulative, "\n");
      }
      absl::StrAppend(&out, name, "_sum", LabelText(labels), " ", Number(h->Sum()), "\n");
      absl::StrAppend(&out, name, "_count", LabelText(labels), " ", cumulative, "\n");
    }
  }
  for (; next_collected != collected.families.end(); ++next_collected) {
    render_collected(next_collected->first, next_collected->second, true);
  }
  return out;
}

}  // namespace lb::metrics
