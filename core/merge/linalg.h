// Dense linear algebra for the subspace merge methods, on the system's LAPACK and BLAS (the
// libraries LibTorch's CPU build uses too: Debian's liblapack3 / OpenBLAS alternatives), in
// float64. Matrices are row-major.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/jobs/progress.h"
#include "core/merge/merge_problem.h"

namespace ms::core::merge::linalg {

// While alive, the BLAS runs single-threaded (OpenBLAS, found at run time; other BLAS are left
// as they are): for loops that already spread independent matrices over every core, where a
// threaded BLAS inside each worker oversubscribes the cores (its spinning threads halve the
// speed). Nested and concurrent scopes share one setting; the last one out restores the count.
class SerialBlas {
public:
    SerialBlas();
    ~SerialBlas();
    SerialBlas(const SerialBlas&) = delete;
    SerialBlas& operator=(const SerialBlas&) = delete;
};

struct Matrix {
    std::int64_t rows = 0, cols = 0;
    std::vector<double> v;  // row-major
    Matrix() = default;
    Matrix(std::int64_t r, std::int64_t c) : rows(r), cols(c), v(static_cast<std::size_t>(r * c), 0.0) {}
    double& at(std::int64_t r, std::int64_t c) { return v[static_cast<std::size_t>(r * cols + c)]; }
    double at(std::int64_t r, std::int64_t c) const { return v[static_cast<std::size_t>(r * cols + c)]; }
};

// The thin SVD A = U·diag(s)·Vt (U rows × k, s k, Vt k × cols, k = min(rows, cols), s descending)
// by LAPACK's divide-and-conquer driver dgesdd (torch.linalg.svd's on CPU, numpy's).
struct Svd {
    Matrix u, vt;
    std::vector<double> s;
};
Svd svd(const Matrix& a);
// The singular values alone (descending), from the eigenvalues of the smaller Gram matrix: the
// small ones to ≈ 1e-8·s_max absolute (for spectra and effective ranks, not for cuts).
std::vector<double> singularValues(const Matrix& a);
// Roy & Vetterli's effective rank exp(−Σ p_i log p_i), p_i = s_i / Σ s (0 for a zero matrix).
double effectiveRank(const std::vector<double>& singularValues);

// A·B (BLAS dgemm).
Matrix multiply(const Matrix& a, const Matrix& b);
// C = A·B into an existing C of the right shape (no allocation: for loops that repeat a product).
void multiplyInto(const Matrix& a, const Matrix& b, Matrix& c);
// AᵀA (cols × cols).
Matrix gram(const Matrix& a);
// The best rank-r approximation U[:, :r]·diag(s[:r])·Vt[:r, :] of a decomposed matrix.
Matrix truncated(const Svd& d, std::int64_t r);
// The nearest matrix with orthonormal columns (or rows), U·Vt of A's thin SVD (the polar factor),
// and A's singular values (descending): through the eigendecomposition of AᵀA (or AAᵀ) when A is
// well conditioned (s_min ≥ 1e-4·s_max), else through the SVD.
struct Polar {
    Matrix q;
    std::vector<double> s;
};
Polar polarDecomposition(const Matrix& a);
Matrix polar(const Matrix& a);
// The top r singular triplets (U rows × r, s r, Vt r × cols), through the eigendecomposition of
// the smaller Gram matrix when the r-th singular value stands above 1e-4·s_max, else the SVD.
Svd topSingular(const Matrix& a, std::int64_t r);
// The first `count` columns (rows) of a matrix.
Matrix leftColumns(const Matrix& a, std::int64_t count);
Matrix topRows(const Matrix& a, std::int64_t count);

// Σ of same-shaped matrices.
Matrix sumOf(const std::vector<Matrix>& matrices);

// The merged tensors of rank 2 (the weight matrices), as plan indices, the largest first.
std::vector<std::size_t> weightMatrices(const TensorPlan& plan);
// One weight matrix's task vectors τ_t = θ_t − θ0 (subtracted in float32, as the reference
// code's state_dict_sub), as float64 matrices. A value that is not finite is refused
// (InvalidArgument naming `who`, the tensor and the model): an SVD needs finite inputs.
std::vector<Matrix> taskVectorMatrices(const MergeProblem& problem, std::size_t tensor, const std::string& who,
                                       const CancelToken* cancel);

}  // namespace ms::core::merge::linalg
