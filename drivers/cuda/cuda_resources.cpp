#include "cuda_resources.hpp"

#include <algorithm>
#include <string>

namespace llmos::cuda {

Status PinnedBuffer::reserve(size_t bytes) {
  if (bytes <= size_) return ok_status();
  const size_t want = std::max(bytes, size_ + size_ / 2);
  if (p_) cudaFreeHost(p_);
  p_ = nullptr;
  size_ = 0;
  LLMOS_RETURN_IF_ERROR(cuda_status(cudaHostAlloc(&p_, want, cudaHostAllocDefault),
                                    "cudaHostAlloc(" + std::to_string(want) + " bytes of pinned staging)"));
  size_ = want;
  return ok_status();
}

ArenaSpan& ArenaSpan::operator=(ArenaSpan&& o) noexcept {
  if (this != &o) {
    reset();
    arena_ = std::move(o.arena_);
    offset_ = o.offset_;
    size_ = o.size_;
    o.arena_.reset();
    o.size_ = 0;
  }
  return *this;
}

void ArenaSpan::reset() {
  if (arena_) arena_->release(offset_);
  arena_.reset();
  size_ = 0;
}

Result<ArenaSpan> ArenaPool::allocate(size_t bytes) {
  for (const auto& a : arenas_) {
    auto off = a->allocate(bytes);
    if (off.ok()) return ArenaSpan(a, *off, bytes);
  }
  const size_t size = std::max(chunk_, (bytes + driver::kArenaAlign - 1) / driver::kArenaAlign * driver::kArenaAlign);
  LLMOS_ASSIGN_OR_RETURN(auto arena, DeviceArena::create(device_, size));
  arenas_.push_back(arena);
  LLMOS_ASSIGN_OR_RETURN(size_t off, arena->allocate(bytes));
  return ArenaSpan(std::move(arena), off, bytes);
}

size_t ArenaPool::bytes() const {
  size_t n = 0;
  for (const auto& a : arenas_) n += a->size();
  return n;
}

Result<ArenaSpan> allocate_from(const std::shared_ptr<DeviceArena>& arena, ArenaPool& pool, size_t bytes) {
  if (!arena) return pool.allocate(bytes);
  LLMOS_ASSIGN_OR_RETURN(size_t off, arena->allocate(bytes));
  return ArenaSpan(arena, off, bytes);
}

Status GrowingBuffer::ensure(ArenaPool& pool, cudaStream_t stream, size_t bytes) {
  if (bytes <= span_.size() && span_.ptr()) return ok_status();
  const size_t want = std::max(bytes, span_.size() + span_.size() / 2);
  if (span_.ptr()) {
    LLMOS_CUDA_RETURN_IF_ERROR(cudaStreamSynchronize(stream));
    span_.reset();
  }
  LLMOS_ASSIGN_OR_RETURN(span_, pool.allocate(want));
  return ok_status();
}

}  // namespace llmos::cuda
