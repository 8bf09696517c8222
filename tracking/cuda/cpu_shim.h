// The tracker's kernels compile two ways from the same .cu source:
//
// - by nvcc / NVRTC (__CUDACC__ defined): ordinary CUDA C, `SHIM_LAUNCHER` expands to nothing;
// - as plain C++ (g++ -x c++): `__global__` / `__device__` vanish, `threadIdx`, `blockIdx`,
//   `blockDim` and `gridDim` become file-level variables, and `SHIM_LAUNCHER` writes a host
//   function `shim_<kernel>(grid, block, args...)` that runs the kernel body once per thread of
//   a one-dimensional grid, in order.
//
// The shim runs threads one after another, so kernels compiled this way must not depend on
// threads running together: no __syncthreads, shared memory or atomics, and every thread
// writes only its own outputs (the kernels here are written that way).
#pragma once

#ifdef __CUDACC__

#define SHIM_LAUNCHER(name, params, args)

#else  // plain C++: the CPU shim

#define __global__
#define __device__
#define __host__

struct ShimDim3 {
    unsigned int x, y, z;
};

static ShimDim3 threadIdx = {0, 0, 0};
static ShimDim3 blockIdx = {0, 0, 0};
static ShimDim3 blockDim = {1, 1, 1};
static ShimDim3 gridDim = {1, 1, 1};

#define SHIM_UNPAREN(...) __VA_ARGS__

#define SHIM_LAUNCHER(name, params, args)                                          \
    extern "C" void shim_##name(unsigned int shim_grid_, unsigned int shim_block_,    \
                                SHIM_UNPAREN params) {                            \
        gridDim = ShimDim3{shim_grid_, 1, 1};                                     \
        blockDim = ShimDim3{shim_block_, 1, 1};                                   \
        for (unsigned int shim_b_ = 0; shim_b_ < shim_grid_; ++shim_b_) {          \
            for (unsigned int shim_t_ = 0; shim_t_ < shim_block_; ++shim_t_) {     \
                blockIdx = ShimDim3{shim_b_, 0, 0};                               \
                threadIdx = ShimDim3{shim_t_, 0, 0};                              \
                name args;                                                        \
            }                                                                     \
        }                                                                         \
    }

#endif

// numpy's elementwise semantics, so both builds give numpy's answers bit for bit where the
// maths is the same sequence of operations: NaN propagates through maximum / minimum.
__device__ inline double np_maximum(double x, double y) { return (x != x || x > y) ? x : y; }
__device__ inline double np_minimum(double x, double y) { return (x != x || x < y) ? x : y; }

__device__ inline long long global_thread() {
    return (long long)blockIdx.x * (long long)blockDim.x + (long long)threadIdx.x;
}
