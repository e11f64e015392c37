// Bench-only experiment (issue 12): the binary-layout logistic kernels fused into one pass per replica block,
// compiled with g++ and called through ctypes. Not used by theorycheck; see bench/fused_kernel.py.
//
// Y: (n_pat + 1, R) row-major, row n_pat all zeros (the "empty part" pattern); idx: (U, 4) pattern ids per
// distinct row (n_pat where a part is empty); wf: (U,) s_u c_u; wb: (U,) n_u s_u c_u / N.
#include <cmath>
#include <cstdint>
#include <cstring>

// the four pattern rows of distinct row u, at replica offset r0
template <typename T>
static inline void rows4(T* base, const int64_t* ix, int64_t R, int64_t r0, T* p[4]) {
    for (int k = 0; k < 4; ++k) p[k] = base + ix[k] * R + r0;
}

extern "C" {

// W (n_pat + 1, R) += Σ_u wb_u σ(z_u) e_{idx[u,k]}, z_u = wf_u Σ_k Y[idx[u,k]]  (float32)
void grad_f32(const float* Y, const int64_t* idx, const float* wf, const float* wb, float* W,
              int64_t U, int64_t R, int64_t B) {
    float z[512];
    for (int64_t r0 = 0; r0 < R; r0 += B) {
        const int64_t nb = (R - r0 < B) ? (R - r0) : B;
        for (int64_t u = 0; u < U; ++u) {
            const float* y[4]; float* wr[4];
            rows4(Y, idx + 4 * u, R, r0, y);
            rows4(W, idx + 4 * u, R, r0, wr);
            const float *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
            const float a = wf[u], w = wb[u];
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) {
                const float zz = a * ((y0[b] + y1[b]) + (y2[b] + y3[b]));
                z[b] = w / (1.0f + expf(-zz));
            }
            float *w0 = wr[0], *w1 = wr[1], *w2 = wr[2], *w3 = wr[3];
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) { w0[b] += z[b]; }
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) { w1[b] += z[b]; }
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) { w2[b] += z[b]; }
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) { w3[b] += z[b]; }
        }
    }
}

// S (R,) = Σ_u n_u softplus(z_u), z_u = wf_u Σ_k Y[idx[u,k]]  (float64), softplus(z) = max(z, 0) + log1p(e^{-|z|})
void value_f64(const double* Y, const int64_t* idx, const double* wf, const double* cnt, double* S,
               int64_t U, int64_t R, int64_t B) {
    double acc[512], t[512];
    for (int64_t r0 = 0; r0 < R; r0 += B) {
        const int64_t nb = (R - r0 < B) ? (R - r0) : B;
        for (int64_t b = 0; b < nb; ++b) acc[b] = 0.0;
        for (int64_t u = 0; u < U; ++u) {
            const double* y[4];
            rows4(Y, idx + 4 * u, R, r0, y);
            const double *y0 = y[0], *y1 = y[1], *y2 = y[2], *y3 = y[3];
            const double a = wf[u], n = cnt[u];
#pragma omp simd
            for (int64_t b = 0; b < nb; ++b) {
                const double zz = a * (((y0[b] + y1[b]) + y2[b]) + y3[b]);
                t[b] = exp(-std::fabs(zz));
                acc[b] += n * ((zz > 0.0 ? zz : 0.0) + log1p(t[b]));
            }
        }
        for (int64_t b = 0; b < nb; ++b) S[r0 + b] = acc[b];
    }
}

}
