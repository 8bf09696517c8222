// Batched, time-aware constant-velocity Kalman filter for boxes: the maths of
// tracking/kalman.py (`BoxKalman`) for every track of every camera in one launch each.
//
// Layout (row-major doubles): mean (T,8) = [x, y, w, h, vx, vy, vw, vh], cov (T,8,8),
// measurements z (T,4) = [x, y, w, h]; dt (T,) seconds. Noise on x and w scales with the box
// width, on y and h with its height (sizes below 1e-3 count as 1e-3).
#include "cpu_shim.h"

#define INITIAL_VELOCITY_STD 1.5

__device__ inline double box_size(double v) { return v < 1e-3 ? 1e-3 : v; }  // NaN stays NaN

// scale[k] for coordinate k of [x, y, w, h]: w, h, w, h of the box in `m` (a mean or a z row).
__device__ inline double coord_scale(const double* m, int k) {
    return (k % 2 == 0) ? box_size(m[2]) : box_size(m[3]);
}

// Solve A X = B in place for a 4x4 A (row-major, destroyed) and B (4 x nrhs, row-major; X on
// return): LU with partial pivoting, as LAPACK's getrf/getrs do.
__device__ inline void solve4(double* A, double* B, int nrhs) {
    for (int col = 0; col < 4; ++col) {
        int pivot = col;
        double best = A[4 * col + col] < 0 ? -A[4 * col + col] : A[4 * col + col];
        for (int r = col + 1; r < 4; ++r) {
            double v = A[4 * r + col] < 0 ? -A[4 * r + col] : A[4 * r + col];
            if (v > best) {
                best = v;
                pivot = r;
            }
        }
        if (pivot != col) {
            for (int c = 0; c < 4; ++c) {
                double tmp = A[4 * col + c];
                A[4 * col + c] = A[4 * pivot + c];
                A[4 * pivot + c] = tmp;
            }
            for (int c = 0; c < nrhs; ++c) {
                double tmp = B[nrhs * col + c];
                B[nrhs * col + c] = B[nrhs * pivot + c];
                B[nrhs * pivot + c] = tmp;
            }
        }
        for (int r = col + 1; r < 4; ++r) {
            double f = A[4 * r + col] / A[4 * col + col];
            for (int c = col; c < 4; ++c) A[4 * r + c] -= f * A[4 * col + c];
            for (int c = 0; c < nrhs; ++c) B[nrhs * r + c] -= f * B[nrhs * col + c];
        }
    }
    for (int r = 3; r >= 0; --r) {
        for (int c = 0; c < nrhs; ++c) {
            double acc = B[nrhs * r + c];
            for (int k = r + 1; k < 4; ++k) acc -= A[4 * r + k] * B[nrhs * k + c];
            B[nrhs * r + c] = acc / A[4 * r + r];
        }
    }
}

// S = H P Hᵀ + R for one track: the projected covariance (4x4, row-major).
__device__ inline void innovation_cov(const double* m, const double* P, double r, double* S) {
    for (int a = 0; a < 4; ++a) {
        for (int b = 0; b < 4; ++b) S[4 * a + b] = P[8 * a + b];
        double s = r * coord_scale(m, a);
        S[4 * a + a] += s * s;
    }
}

// One thread per track: mean = [z, 0], cov = diag((2 r scale)², (1.5 scale)²).
extern "C" __global__ void kalman_initiate(int n, const double* z, double r, double* mean,
                                           double* cov) {
    long long t = global_thread();
    if (t >= n) return;
    const double* zt = z + 4 * t;
    double* m = mean + 8 * t;
    double* P = cov + 64 * t;
    for (int i = 0; i < 64; ++i) P[i] = 0.0;
    for (int k = 0; k < 4; ++k) {
        double scale = coord_scale(zt, k);
        m[k] = zt[k];
        m[k + 4] = 0.0;
        double s = 2.0 * r * scale;
        double v = INITIAL_VELOCITY_STD * scale;
        P[9 * k] = s * s;
        P[9 * (k + 4)] = v * v;
    }
}
SHIM_LAUNCHER(kalman_initiate, (int n, const double* z, double r, double* mean, double* cov),
              (n, z, r, mean, cov))

// One thread per covariance element (T*64 threads): F P Fᵀ + Q dt with F = [[I, dt I], [0, I]];
// the thread of column 0 also writes its row of the mean. Outputs are separate arrays.
extern "C" __global__ void kalman_predict(int n, const double* mean, const double* cov,
                                          const double* dt, double q_pos, double q_vel,
                                          double* out_mean, double* out_cov) {
    long long k = global_thread();
    if (k >= (long long)n * 64) return;
    long long t = k / 64;
    int i = (int)((k / 8) % 8), j = (int)(k % 8);
    const double* m = mean + 8 * t;
    const double* P = cov + 64 * t;
    double d = dt[t];
    // A = F P, row i: A[i][c] = P[i][c] + dt P[i+4][c] for the position rows
    double a_ij = i < 4 ? P[8 * i + j] + d * P[8 * (i + 4) + j] : P[8 * i + j];
    double value = a_ij;
    if (j < 4) {
        double a_ij4 = i < 4 ? P[8 * i + j + 4] + d * P[8 * (i + 4) + j + 4] : P[8 * i + j + 4];
        value = a_ij + d * a_ij4;
    }
    if (i == j) {
        double q = (i < 4 ? q_pos : q_vel) * coord_scale(m, i % 4);
        value += q * q * d;
    }
    out_cov[k] = value;
    if (j == 0) out_mean[8 * t + i] = i < 4 ? m[i] + d * m[i + 4] : m[i];
}
SHIM_LAUNCHER(kalman_predict,
              (int n, const double* mean, const double* cov, const double* dt, double q_pos,
               double q_vel, double* out_mean, double* out_cov),
              (n, mean, cov, dt, q_pos, q_vel, out_mean, out_cov))

// One thread per track: K = P Hᵀ S⁻¹, mean + K (z - H mean), P - K S Kᵀ (numpy's formula).
extern "C" __global__ void kalman_update(int n, const double* mean, const double* cov,
                                         const double* z, double r, double* out_mean,
                                         double* out_cov) {
    long long t = global_thread();
    if (t >= n) return;
    const double* m = mean + 8 * t;
    const double* P = cov + 64 * t;
    const double* zt = z + 4 * t;
    double S[16], LU[16], X[32];  // X: 4 x 8, solves S X = (P Hᵀ)ᵀ; K = Xᵀ
    innovation_cov(m, P, r, S);
    for (int i = 0; i < 16; ++i) LU[i] = S[i];
    for (int a = 0; a < 4; ++a)
        for (int c = 0; c < 8; ++c) X[8 * a + c] = P[8 * c + a];
    solve4(LU, X, 8);
    double innovation[4];
    for (int a = 0; a < 4; ++a) innovation[a] = zt[a] - m[a];
    double KS[32];  // (8 x 4) K S
    for (int c = 0; c < 8; ++c) {
        double acc = 0.0;
        for (int a = 0; a < 4; ++a) acc += X[8 * a + c] * innovation[a];
        out_mean[8 * t + c] = m[c] + acc;
        for (int b = 0; b < 4; ++b) {
            double ks = 0.0;
            for (int a = 0; a < 4; ++a) ks += X[8 * a + c] * S[4 * a + b];
            KS[4 * c + b] = ks;
        }
    }
    for (int c = 0; c < 8; ++c) {
        for (int e = 0; e < 8; ++e) {
            double acc = 0.0;
            for (int b = 0; b < 4; ++b) acc += KS[4 * c + b] * X[8 * b + e];
            out_cov[64 * t + 8 * c + e] = P[8 * c + e] - acc;
        }
    }
}
SHIM_LAUNCHER(kalman_update,
              (int n, const double* mean, const double* cov, const double* z, double r,
               double* out_mean, double* out_cov),
              (n, mean, cov, z, r, out_mean, out_cov))

// One thread per (track, candidate) pair of T tracks x N candidates: the squared Mahalanobis
// distance of z[t, k] (T,N,4) to track t's projected measurement, diff S⁻¹ diffᵀ; S⁻¹ is
// formed as numpy's `inv` does (solve against the identity).
extern "C" __global__ void kalman_mahalanobis(int n_tracks, int n_cand, const double* mean,
                                              const double* cov, const double* z, double r,
                                              double* out) {
    long long k = global_thread();
    if (k >= (long long)n_tracks * n_cand) return;
    long long t = k / n_cand;
    const double* m = mean + 8 * t;
    const double* zk = z + 4 * k;
    double S[16], inv[16];
    innovation_cov(m, cov + 64 * t, r, S);
    for (int i = 0; i < 16; ++i) inv[i] = (i % 5 == 0) ? 1.0 : 0.0;
    solve4(S, inv, 4);
    double diff[4];
    for (int a = 0; a < 4; ++a) diff[a] = zk[a] - m[a];
    double d2 = 0.0;
    for (int b = 0; b < 4; ++b) {
        double v = 0.0;
        for (int a = 0; a < 4; ++a) v += diff[a] * inv[4 * a + b];
        d2 += v * diff[b];
    }
    out[k] = d2;
}
SHIM_LAUNCHER(kalman_mahalanobis,
              (int n_tracks, int n_cand, const double* mean, const double* cov, const double* z,
               double r, double* out),
              (n_tracks, n_cand, mean, cov, z, r, out))
