// Recycled<T>: a base that makes `new T` / `delete` of a class take memory from, and give it
// back to, a small free list of the calling thread instead of the heap. For objects the
// proxy's request path creates and destroys once per request (streams, timers): in the steady
// state they cost no malloc/free.
//
// Usage: class Stream : public Recycled<Stream> { ... };  (T must be the most derived type: a
// subclass of T would get blocks of the wrong size). Thread-safe: each thread has its own
// list; a block freed on another thread than the one that allocated it joins that thread's
// list.
#ifndef LB_COMMON_BASE_RECYCLED_H_
#define LB_COMMON_BASE_RECYCLED_H_

#include <cstddef>
#include <new>

namespace lb {

template <typename T>
class Recycled {
 public:
  static void* operator new(size_t size) {
    if (size == sizeof(T)) {
      FreeList& list = List();
      if (list.head != nullptr) {
        Block* block = list.head;
        list.head = block->next;
        --list.count;
        return block;
      }
    }
    return ::operator new(size);
  }

  static void operator delete(void* p, size_t size) {
    if (p == nullptr) return;
    FreeList& list = List();
    if (size == sizeof(T) && list.count < kMaxFree) {
      Block* block = static_cast<Block*>(p);
      block->next = list.head;
      list.head = block;
      ++list.count;
      return;
    }
    ::operator delete(p);
  }

 private:
  static constexpr size_t kMaxFree = 256;
  struct Block {
    Block* next;
  };
  struct FreeList {
    Block* head = nullptr;
    size_t count = 0;
    ~FreeList() {
      while (head != nullptr) {
        Block* next = head->next;
        ::operator delete(head);
        head = next;
      }
    }
  };
  static FreeList& List() {
    static_assert(sizeof(T) >= sizeof(Block), "too small to recycle");
    thread_local FreeList list;
    return list;
  }
};

}  // namespace lb

#endif  // LB_COMMON_BASE_RECYCLED_H_
