#pragma once
/// A fixed set of worker threads that run one task per worker and wait for all (fork-join).

#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace troupe::train {

class thread_pool {
public:
  /// `workers` tasks run per call; the calling thread runs task 0, so workers − 1 threads start.
  explicit thread_pool(std::size_t workers);
  ~thread_pool();
  thread_pool(const thread_pool&) = delete;
  thread_pool& operator=(const thread_pool&) = delete;

  std::size_t size() const { return workers_; }

  /// Runs task(i) for i in [0, size()) concurrently; rethrows the first exception after all finished.
  void run(const std::function<void(std::size_t)>& task);

private:
  void loop(std::size_t index);

  std::size_t workers_;
  std::vector<std::thread> threads_;
  std::mutex mutex_;
  std::condition_variable start_cv_, done_cv_;
  const std::function<void(std::size_t)>* task_ = nullptr;
  std::size_t generation_ = 0, pending_ = 0;
  bool stop_ = false;
  std::exception_ptr failure_;
};

} // namespace troupe::train
