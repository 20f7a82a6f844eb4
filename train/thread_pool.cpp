#include "train/thread_pool.hpp"

namespace troupe::train {

thread_pool::thread_pool(std::size_t workers) : workers_(workers == 0 ? 1 : workers) {
  for (std::size_t i = 1; i < workers_; ++i)
    threads_.emplace_back([this, i] { loop(i); });
}

thread_pool::~thread_pool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  start_cv_.notify_all();
  for (auto& t : threads_)
    t.join();
}

void thread_pool::run(const std::function<void(std::size_t)>& task) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = &task;
    pending_ = workers_ - 1;
    failure_ = nullptr;
    ++generation_;
  }
  start_cv_.notify_all();
  std::exception_ptr mine;
  try {
    task(0);
  } catch (...) {
    mine = std::current_exception();
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_cv_.wait(lock, [this] { return pending_ == 0; });
  task_ = nullptr;
  if (mine)
    std::rethrow_exception(mine);
  if (failure_)
    std::rethrow_exception(failure_);
}

void thread_pool::loop(std::size_t index) {
  std::size_t seen = 0;
  for (;;) {
    const std::function<void(std::size_t)>* task = nullptr;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      start_cv_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_)
        return;
      seen = generation_;
      task = task_;
    }
    std::exception_ptr failure;
    try {
      (*task)(index);
    } catch (...) {
      failure = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (failure && !failure_)
        failure_ = failure;
      --pending_;
    }
    done_cv_.notify_all();
  }
}

} // namespace troupe::train
