#include "core/model/precision.h"

#include <ATen/ATen.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "core/errors.h"

namespace ms::core::model {

namespace {
std::atomic<Precision> g_precision{Precision::Fp32};
std::atomic<bool> g_chosen{false};  // by the command line

double secondsOf(const at::Tensor& a, const at::Tensor& b) {
    (void)at::matmul(a, b);  // warm-up
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 3; ++i) (void)at::matmul(a, b);
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}
}  // namespace

std::string precisionName(Precision p) {
    switch (p) {
        case Precision::Fp32: return "fp32";
        case Precision::Bf16: return "bf16";
        case Precision::Auto: return "auto";
    }
    return "?";
}

Precision parsePrecision(const std::string& name) {
    for (Precision p : {Precision::Fp32, Precision::Bf16, Precision::Auto})
        if (precisionName(p) == name) return p;
    throw InvalidArgument("unknown precision '" + name + "' (fp32, bf16, auto)");
}

double bf16Speedup() {
    static std::once_flag once;
    static double speedup = 0;
    std::call_once(once, [] {
        try {
            const at::Tensor a = at::rand({512, 768}), b = at::rand({768, 768});
            const double fp32 = secondsOf(a, b), bf16 = secondsOf(a.to(at::kBFloat16), b.to(at::kBFloat16));
            speedup = bf16 > 0 ? fp32 / bf16 : 0;
        } catch (const std::exception&) {
            speedup = 0;  // no bf16 matrix products here
        }
    });
    return speedup;
}

namespace {
// Resolves `auto` and makes the choice current; `chosen`: the command line made it.
PrecisionChoice apply(Precision p, bool chosen) {
    PrecisionChoice c;
    c.precision = p;
    if (p == Precision::Auto) {
        const double s = bf16Speedup();
        c.precision = s > 1.2 ? Precision::Bf16 : Precision::Fp32;
        char buf[96];
        std::snprintf(buf, sizeof buf, "auto: %s (bf16 matrix products %.1f× fp32's here)", precisionName(c.precision).c_str(), s);
        c.note = buf;
    }
    g_precision.store(c.precision);
    g_chosen.store(chosen);
    return c;
}
}  // namespace

PrecisionChoice setEncoderPrecision(Precision p) { return apply(p, true); }

void setEncoderPrecisionFromKit(Precision p) {
    if (!g_chosen.load()) apply(p, false);
}

void clearEncoderPrecisionChoice() {
    g_chosen.store(false);
    g_precision.store(Precision::Fp32);
}

Precision encoderPrecision() { return g_precision.load(); }

}  // namespace ms::core::model
