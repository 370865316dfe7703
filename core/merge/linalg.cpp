#include "core/merge/linalg.h"

#include <dlfcn.h>

#include <algorithm>
#include <mutex>
#include <atomic>
#include <cmath>
#include <string>

#include "core/errors.h"

extern "C" {
void dgesdd_(const char* jobz, const int* m, const int* n, double* a, const int* lda, double* s, double* u, const int* ldu,
             double* vt, const int* ldvt, double* work, const int* lwork, int* iwork, int* info);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work, const int* lwork,
             int* iwork, const int* liwork, int* info);
void dsyrk_(const char* uplo, const char* trans, const int* n, const int* k, const double* alpha, const double* a, const int* lda,
            const double* beta, double* c, const int* ldc);
void dgemm_(const char* transa, const char* transb, const int* m, const int* n, const int* k, const double* alpha, const double* a,
            const int* lda, const double* b, const int* ldb, const double* beta, double* c, const int* ldc);
}

namespace ms::core::merge::linalg {

namespace {
struct BlasThreads {
    using Get = int (*)();
    using Set = void (*)(int);
    Get get = reinterpret_cast<Get>(::dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    Set set = reinterpret_cast<Set>(::dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    std::mutex mutex;
    int users = 0, saved = 0;
};
BlasThreads& blasThreads() {
    static BlasThreads b;
    return b;
}
}  // namespace

SerialBlas::SerialBlas() {
    BlasThreads& b = blasThreads();
    if (!b.get || !b.set) return;
    std::lock_guard<std::mutex> lock(b.mutex);
    if (b.users++ == 0) {
        b.saved = b.get();
        b.set(1);
    }
}

SerialBlas::~SerialBlas() {
    BlasThreads& b = blasThreads();
    if (!b.get || !b.set) return;
    std::lock_guard<std::mutex> lock(b.mutex);
    if (--b.users == 0) b.set(b.saved);
}

namespace {
int dim(std::int64_t v) {
    if (v < 0 || v > 0x7fffffff) throw InvalidArgument("a matrix dimension of " + std::to_string(v) + " is beyond LAPACK's int");
    return static_cast<int>(v);
}
}  // namespace

Svd svd(const Matrix& a) {
    // LAPACK is column-major: the row-major A is the column-major Aᵀ (cols × rows). Its SVD
    // Aᵀ = U'·S·Vt' gives A = Vt'ᵀ·S·U'ᵀ, and the column-major buffers of Vt' (k × rows) and U'
    // (cols × k) are the row-major buffers of A's U (rows × k) and Vt (k × cols).
    const int m = dim(a.cols), n = dim(a.rows), k = std::min(m, n);
    Svd r;
    r.s.assign(static_cast<std::size_t>(k), 0.0);
    r.u = Matrix(a.rows, k);
    r.vt = Matrix(k, a.cols);
    if (k == 0) return r;
    std::vector<double> work1 = a.v;  // dgesdd overwrites its input
    std::vector<int> iwork(static_cast<std::size_t>(8 * k));
    int lwork = -1, info = 0;
    double query = 0;
    const char jobz = 'S';
    dgesdd_(&jobz, &m, &n, work1.data(), &m, r.s.data(), r.vt.v.data(), &m, r.u.v.data(), &k, &query, &lwork, iwork.data(), &info);
    if (info != 0) throw Error("LAPACK dgesdd: workspace query failed (info " + std::to_string(info) + ")");
    lwork = static_cast<int>(query);
    std::vector<double> work(static_cast<std::size_t>(std::max(1, lwork)));
    dgesdd_(&jobz, &m, &n, work1.data(), &m, r.s.data(), r.vt.v.data(), &m, r.u.v.data(), &k, work.data(), &lwork, iwork.data(), &info);
    if (info != 0)
        throw Error("LAPACK dgesdd: the SVD of a " + std::to_string(a.rows) + "×" + std::to_string(a.cols) +
                    " matrix did not converge (info " + std::to_string(info) + ")");
    return r;
}

namespace {
Matrix transposed(const Matrix& a);
}  // namespace

std::vector<double> singularValues(const Matrix& a) {
    // The square roots of the eigenvalues of the smaller Gram matrix (dsyrk, then dsyevd without
    // vectors): an order of magnitude cheaper than dgesdd at ViT-B sizes. Squaring costs the small
    // singular values absolute precision (≈ 1e-8·s_max), below what the spectra plots and the
    // effective rank resolve.
    const std::int64_t k = std::min(a.rows, a.cols);
    std::vector<double> s(static_cast<std::size_t>(k), 0.0);
    if (k == 0) return s;
    Matrix g = a.rows >= a.cols ? gram(a) : gram(transposed(a));
    const int n = dim(g.rows);
    int lwork = -1, liwork = -1, info = 0, iquery = 0;
    double query = 0;
    const char jobz = 'N', uplo = 'U';
    dsyevd_(&jobz, &uplo, &n, g.v.data(), &n, s.data(), &query, &lwork, &iquery, &liwork, &info);
    if (info != 0) throw Error("LAPACK dsyevd: workspace query failed (info " + std::to_string(info) + ")");
    lwork = static_cast<int>(query);
    liwork = iquery;
    std::vector<double> work(static_cast<std::size_t>(std::max(1, lwork)));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(1, liwork)));
    dsyevd_(&jobz, &uplo, &n, g.v.data(), &n, s.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0)
        throw Error("LAPACK dsyevd: the eigenvalues of a " + std::to_string(n) + "×" + std::to_string(n) +
                    " Gram matrix did not converge (info " + std::to_string(info) + ")");
    for (double& v : s) v = std::sqrt(std::max(0.0, v));
    std::reverse(s.begin(), s.end());  // descending
    return s;
}

double effectiveRank(const std::vector<double>& s) {
    double total = 0;
    for (double v : s) total += v;
    if (total <= 0) return 0.0;
    double h = 0;
    for (double v : s)
        if (v > 0) h -= (v / total) * std::log(v / total);
    return std::exp(h);
}

Matrix multiply(const Matrix& a, const Matrix& b) {
    Matrix c(a.rows, b.cols);
    multiplyInto(a, b, c);
    return c;
}

void multiplyInto(const Matrix& a, const Matrix& b, Matrix& c) {
    if (a.cols != b.rows || c.rows != a.rows || c.cols != b.cols)
        throw InvalidArgument("matrix product of " + std::to_string(a.rows) + "×" + std::to_string(a.cols) + " and " +
                              std::to_string(b.rows) + "×" + std::to_string(b.cols));
    if (c.v.empty()) return;
    if (a.cols == 0) {
        std::fill(c.v.begin(), c.v.end(), 0.0);
        return;
    }
    // Row-major C = A·B is column-major Cᵀ = Bᵀ·Aᵀ: dgemm on the buffers as they are, B first.
    const int m = dim(b.cols), n = dim(a.rows), k = dim(a.cols);
    const double one = 1.0, zero = 0.0;
    const char no = 'N';
    dgemm_(&no, &no, &m, &n, &k, &one, b.v.data(), &m, a.v.data(), &k, &zero, c.v.data(), &m);
}

Matrix gram(const Matrix& a) {
    Matrix g(a.cols, a.cols);
    if (g.v.empty() || a.rows == 0) return g;
    // The row-major A is the column-major X = Aᵀ (cols × rows); AᵀA = X·Xᵀ by dsyrk (one triangle:
    // half dgemm's work), then mirrored. Symmetric: its column-major buffer is the row-major one.
    const int n = dim(a.cols), k = dim(a.rows);
    const double one = 1.0, zero = 0.0;
    const char upper = 'U', no = 'N';
    dsyrk_(&upper, &no, &n, &k, &one, a.v.data(), &n, &zero, g.v.data(), &n);
    for (int c = 0; c < n; ++c)  // column-major upper triangle: (r, c) with r ≤ c at r + c·n
        for (int r = 0; r < c; ++r) g.v[static_cast<std::size_t>(r) * n + c] = g.v[static_cast<std::size_t>(c) * n + r];
    return g;
}

Matrix truncated(const Svd& d, std::int64_t r) {
    r = std::clamp<std::int64_t>(r, 0, static_cast<std::int64_t>(d.s.size()));
    Matrix us = leftColumns(d.u, r);
    for (std::int64_t i = 0; i < us.rows; ++i)
        for (std::int64_t j = 0; j < r; ++j) us.at(i, j) *= d.s[static_cast<std::size_t>(j)];
    return multiply(us, topRows(d.vt, r));
}

namespace {
// Eigendecomposition of a symmetric matrix (LAPACK dsyevd): eigenvalues ascending, eigenvectors
// as the columns of the returned row-major matrix. False when LAPACK fails.
bool symmetricEigen(const Matrix& g, std::vector<double>& values, Matrix& vectors) {
    const int n = dim(g.rows);
    values.assign(static_cast<std::size_t>(n), 0.0);
    vectors = g;  // symmetric: the row-major buffer is the column-major one
    if (n == 0) return true;
    int lwork = -1, liwork = -1, info = 0, iquery = 0;
    double query = 0;
    const char jobz = 'V', uplo = 'U';
    dsyevd_(&jobz, &uplo, &n, vectors.v.data(), &n, values.data(), &query, &lwork, &iquery, &liwork, &info);
    if (info != 0) return false;
    lwork = static_cast<int>(query);
    liwork = iquery;
    std::vector<double> work(static_cast<std::size_t>(std::max(1, lwork)));
    std::vector<int> iwork(static_cast<std::size_t>(std::max(1, liwork)));
    dsyevd_(&jobz, &uplo, &n, vectors.v.data(), &n, values.data(), work.data(), &lwork, iwork.data(), &liwork, &info);
    if (info != 0) return false;
    // Column-major eigenvectors → row-major: transpose in place.
    for (int r = 0; r < n; ++r)
        for (int c = r + 1; c < n; ++c) std::swap(vectors.v[static_cast<std::size_t>(r) * n + c], vectors.v[static_cast<std::size_t>(c) * n + r]);
    return true;
}

Matrix transposed(const Matrix& a) {
    Matrix t(a.cols, a.rows);
    for (std::int64_t r = 0; r < a.rows; ++r)
        for (std::int64_t c = 0; c < a.cols; ++c) t.at(c, r) = a.at(r, c);
    return t;
}
}  // namespace

Polar polarDecomposition(const Matrix& a) {
    // A = U·S·Vᵀ (rows ≥ cols): AᵀA = V·S²·Vᵀ, so U·Vᵀ = A·(V·S⁻¹·Vᵀ) from a cols × cols symmetric
    // eigendecomposition, several times cheaper than the SVD of A. Squaring the spectrum costs
    // precision in the smallest singular values: used only when s_min ≥ 1e-4·s_max (their
    // relative error then stays near 1e-8), else the SVD. Wide matrices go through Aᵀ.
    if (a.rows < a.cols) {
        Polar t = polarDecomposition(transposed(a));
        t.q = transposed(t.q);
        return t;
    }
    Polar out;
    std::vector<double> lambda;
    Matrix v;
    if (a.cols > 0 && symmetricEigen(gram(a), lambda, v)) {
        const double top = std::max(0.0, lambda.back());
        const double bottom = std::max(0.0, lambda.front());
        if (top > 0 && bottom >= 1e-8 * top) {
            const std::int64_t k = a.cols;
            out.s.resize(static_cast<std::size_t>(k));
            Matrix half(k, k);  // (V·S^-½)ᵀ: V·S⁻¹·Vᵀ = halfᵀ·half, one dsyrk
            for (std::int64_t j = 0; j < k; ++j) {
                const double sj = std::sqrt(lambda[static_cast<std::size_t>(j)]);
                out.s[static_cast<std::size_t>(k - 1 - j)] = sj;  // descending
                const double f = 1.0 / std::sqrt(sj);
                for (std::int64_t i = 0; i < k; ++i) half.at(j, i) = v.at(i, j) * f;
            }
            out.q = multiply(a, gram(half));
            return out;
        }
    }
    const Svd d = svd(a);
    out.q = multiply(d.u, d.vt);
    out.s = d.s;
    return out;
}

Matrix polar(const Matrix& a) { return polarDecomposition(a).q; }

Svd topSingular(const Matrix& a, std::int64_t r) {
    const std::int64_t k = std::min(a.rows, a.cols);
    r = std::clamp<std::int64_t>(r, 0, k);
    Svd out;
    out.u = Matrix(a.rows, 0);
    out.vt = Matrix(0, a.cols);
    if (r == 0) return out;
    // A = U·S·Vᵀ: the eigendecomposition of the smaller Gram matrix (AᵀA = V·S²·Vᵀ, or AAᵀ =
    // U·S²·Uᵀ) gives the top r pairs, the other side as A·v / s. The top r singular values must
    // stand above 1e-4·s_max (relative error near 1e-8 then), else the SVD.
    const bool tall = a.rows >= a.cols;
    std::vector<double> lambda;
    Matrix e;
    if (r > 0 && symmetricEigen(tall ? gram(a) : gram(transposed(a)), lambda, e)) {
        const double top = std::max(0.0, lambda.back());
        const double cut = lambda[static_cast<std::size_t>(k - r)];
        if (top > 0 && cut >= 1e-8 * top) {
            out.s.resize(static_cast<std::size_t>(r));
            Matrix side(k, r);  // the eigenvectors of the top r, descending
            for (std::int64_t j = 0; j < r; ++j) {
                out.s[static_cast<std::size_t>(j)] = std::sqrt(lambda[static_cast<std::size_t>(k - 1 - j)]);
                for (std::int64_t i = 0; i < k; ++i) side.at(i, j) = e.at(i, k - 1 - j);
            }
            if (tall) {  // V = side; U = A·V·S⁻¹
                Matrix u = multiply(a, side);
                for (std::int64_t i = 0; i < u.rows; ++i)
                    for (std::int64_t j = 0; j < r; ++j) u.at(i, j) /= out.s[static_cast<std::size_t>(j)];
                out.u = std::move(u);
                out.vt = transposed(side);
            } else {  // U = side; Vᵀ = S⁻¹·Uᵀ·A
                Matrix vt = multiply(transposed(side), a);
                for (std::int64_t j = 0; j < r; ++j)
                    for (std::int64_t c = 0; c < vt.cols; ++c) vt.at(j, c) /= out.s[static_cast<std::size_t>(j)];
                out.u = std::move(side);
                out.vt = std::move(vt);
            }
            return out;
        }
    }
    const Svd d = svd(a);
    out.u = leftColumns(d.u, r);
    out.vt = topRows(d.vt, r);
    out.s.assign(d.s.begin(), d.s.begin() + r);
    return out;
}

Matrix leftColumns(const Matrix& a, std::int64_t count) {
    Matrix out(a.rows, count);
    for (std::int64_t r = 0; r < a.rows; ++r)
        std::copy_n(a.v.begin() + r * a.cols, count, out.v.begin() + r * count);
    return out;
}

Matrix topRows(const Matrix& a, std::int64_t count) {
    Matrix out(count, a.cols);
    std::copy_n(a.v.begin(), count * a.cols, out.v.begin());
    return out;
}

Matrix sumOf(const std::vector<Matrix>& matrices) {
    Matrix s(matrices.at(0).rows, matrices[0].cols);
    for (const Matrix& m : matrices)
        for (std::size_t i = 0; i < s.v.size(); ++i) s.v[i] += m.v[i];
    return s;
}

std::vector<std::size_t> weightMatrices(const TensorPlan& plan) {
    std::vector<std::size_t> out;
    for (std::size_t i = 0; i < plan.merged.size(); ++i)
        if (plan.merged[i].shape.size() == 2) out.push_back(i);
    std::stable_sort(out.begin(), out.end(), [&](std::size_t a, std::size_t b) { return plan.merged[a].numel > plan.merged[b].numel; });
    return out;
}

std::vector<Matrix> taskVectorMatrices(const MergeProblem& problem, std::size_t tensor, const std::string& who,
                                       const CancelToken* cancel) {
    const PlannedTensor& pt = problem.plan().merged.at(tensor);
    if (pt.shape.size() != 2) throw InvalidArgument(who + ": tensor " + pt.name + " is not a matrix");
    const std::size_t T = problem.taskCount();
    std::vector<Matrix> taus(T, Matrix(pt.shape[0], pt.shape[1]));
    std::atomic<int> bad{-1};
    problem.forEachChunkOf(tensor, [&](unsigned, const ChunkView& c) {
        for (std::size_t t = 0; t < T; ++t)
            for (std::size_t i = 0; i < c.n; ++i) {
                const float tau = c.experts[t][i] - c.base[i];
                if (!std::isfinite(tau)) bad = static_cast<int>(t);
                taus[t].v[c.begin + i] = static_cast<double>(tau);
            }
    }, cancel);
    if (bad >= 0)
        throw InvalidArgument(who + ": tensor " + pt.name + " of model " + std::to_string(bad.load() + 1) +
                              " (or the base) holds a value that is not a finite number: an SVD needs finite task vectors");
    problem.release(tensor);  // read once: its pages need not stay resident
    return taus;
}

}  // namespace ms::core::merge::linalg
