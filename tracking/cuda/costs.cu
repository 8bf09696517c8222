// Segmented cost matrices: every camera's block of tracks x detections in one launch, over the
// padded (C, T, ...) x (C, N, ...) layout of tracking/association.py. One thread per
// (camera, track, detection) entry of the (C, T, N) output; row-major doubles.
#include "cpu_shim.h"

// xyxy box area, 0 for inverted boxes (storelens.boxes._area).
__device__ inline double box_area(const double* b) {
    return np_maximum(b[2] - b[0], 0.0) * np_maximum(b[3] - b[1], 0.0);
}

// IoU of (C,T,4) x (C,N,4) xyxy boxes → (C,T,N), 0 where the union is empty: the same
// operations in the same order as `box_iou_batch`, so the result is numpy's bit for bit.
extern "C" __global__ void iou_blocks(int n_cams, int n_tracks, int n_dets, const double* a,
                                      const double* b, double* out) {
    long long k = global_thread();
    long long per_cam = (long long)n_tracks * n_dets;
    if (k >= (long long)n_cams * per_cam) return;
    long long c = k / per_cam;
    long long t = (k / n_dets) % n_tracks;
    long long d = k % n_dets;
    const double* p = a + 4 * (c * n_tracks + t);
    const double* q = b + 4 * (c * n_dets + d);
    double w = np_maximum(np_minimum(p[2], q[2]) - np_maximum(p[0], q[0]), 0.0);
    double h = np_maximum(np_minimum(p[3], q[3]) - np_maximum(p[1], q[1]), 0.0);
    double inter = w * h;
    double uni = box_area(p) + box_area(q) - inter;
    out[k] = uni > 0 ? inter / uni : 0.0;
}
SHIM_LAUNCHER(iou_blocks,
              (int n_cams, int n_tracks, int n_dets, const double* a, const double* b,
               double* out),
              (n_cams, n_tracks, n_dets, a, b, out))

// Cosine distance 1 - a·b of (C,T,D) x (C,N,D) vectors → (C,T,N); the vectors come in
// normalised (the tracker's unit embeddings), so this is the appearance cost.
extern "C" __global__ void cosine_distance_blocks(int n_cams, int n_tracks, int n_dets, int dim,
                                                  const double* a, const double* b,
                                                  double* out) {
    long long k = global_thread();
    long long per_cam = (long long)n_tracks * n_dets;
    if (k >= (long long)n_cams * per_cam) return;
    long long c = k / per_cam;
    long long t = (k / n_dets) % n_tracks;
    long long d = k % n_dets;
    const double* p = a + (long long)dim * (c * n_tracks + t);
    const double* q = b + (long long)dim * (c * n_dets + d);
    double dot = 0.0;
    for (int i = 0; i < dim; ++i) dot += p[i] * q[i];
    out[k] = 1.0 - dot;
}
SHIM_LAUNCHER(cosine_distance_blocks,
              (int n_cams, int n_tracks, int n_dets, int dim, const double* a, const double* b,
               double* out),
              (n_cams, n_tracks, n_dets, dim, a, b, out))
