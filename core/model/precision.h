// The number format encoder forwards run in: --precision fp32|bf16|auto (sweep, relations, kit
// check / init, merge --kit). bf16 casts the weights and images of a forward to bfloat16 (oneDNN's
// bf16 matrix products: 4× a float32 one on an AVX-512 BF16 CPU) and hands back float32 features;
// a forward that trains (gradients on, parameters requiring them) or collects RegMean's inputs
// stays float32, and the merged weights written to disk are never affected. `auto` takes bf16
// only where a short measurement says it is faster here. Process-wide (docs/perf.md).
#pragma once

#include <string>

namespace ms::core::model {

enum class Precision { Fp32, Bf16, Auto };

std::string precisionName(Precision p);  // fp32, bf16, auto
Precision parsePrecision(const std::string& name);  // throws InvalidArgument naming the choices

// Sets what encoder forwards use from now on; `auto` is resolved here (measured once). Returns
// what was chosen, with a note for `auto` ("auto: bf16, 3.9× fp32 here").
struct PrecisionChoice {
    Precision precision = Precision::Fp32;
    std::string note;
};
PrecisionChoice setEncoderPrecision(Precision p);
// A kit's `precision:` field: taken unless the command line chose one (setEncoderPrecision).
void setEncoderPrecisionFromKit(Precision p);
// Forgets setEncoderPrecision's choice: the next kit's `precision:` (fp32 without one) decides.
void clearEncoderPrecisionChoice();
Precision encoderPrecision();  // Fp32 or Bf16

// bf16 over fp32 matrix-product speed on this CPU (measured once, a few ms).
double bf16Speedup();

}  // namespace ms::core::model
