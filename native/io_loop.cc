// See io_loop.h. The libuv half of the data-path sockets: handles, requests and callbacks. The
// decisions (what is queued, when a FIN or a read is due) are stream_core's; the reporting to JS
// is io_stream.cc's.
//
// Lifetime: a Stream is the memory libuv points into (its uv_tcp_t is the first member) and is
// freed only by its close callback. Requests (connect, an asynchronous write, shutdown) are
// allocated when issued and freed by their callbacks; libuv runs those, with UV_ECANCELED if the
// handle closed, before the close callback. At env teardown streams are detached (loop = null):
// their callbacks then only free memory.
#include "io_loop.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace kvstore {
namespace io {

// One stream: 296 bytes (a 304-byte malloc chunk), most of it libuv's uv_tcp_t. Output buffers
// only while output is queued (clients), requests only while one is pending.
struct Stream {
  uv_tcp_t tcp;  // first: libuv's handle; tcp.data points back here
  IoLoop* loop;  // null once detached at teardown
  OutputQueue out;
  int32_t id;
  int16_t error = 0;  // the first libuv error (0: none)
  StreamState st;

  Stream(IoLoop* l, bool backend, int32_t i) : loop(l), id(i) { st.backend = backend; }
  uv_stream_t* handle() { return reinterpret_cast<uv_stream_t*>(&tcp); }
};

#if defined(__linux__) && defined(__x86_64__)
static_assert(sizeof(Stream) <= 296, "per-stream native state grew: an idle client should stay in a 304-byte malloc chunk");
#endif

struct Listener {
  uv_tcp_t tcp;
  IoLoop* loop;
  int32_t id;
};

IoLoop::IoLoop(uv_loop_t* loop, IoEvents* events) : loop_(loop), events_(events) {
  check_ = new uv_check_t;
  uv_check_init(loop_, check_);
  check_->data = this;
  uv_check_start(check_, OnCheck);  // after Node's: runs first in the check phase
  uv_unref(reinterpret_cast<uv_handle_t*>(check_));
}

IoLoop::~IoLoop() {
  if (!tornDown_) teardown();
}

void IoLoop::deliverReads() {
  size_t n = batch_.count();
  if (n == 0) return;
  // JS consumes the batch synchronously (no read can happen during the call), so the arena and
  // the event list are free again once it returns.
  events_->reads(n);
  batch_.reset();
}

void IoLoop::OnCheck(uv_check_t* check) { static_cast<IoLoop*>(check->data)->deliverReads(); }

Stream* IoLoop::newStream(bool client) {
  int32_t id;
  if (!freeIds_.empty()) {
    id = freeIds_.back();
    freeIds_.pop_back();
  } else {
    id = static_cast<int32_t>(byId_.size());
    byId_.push_back(nullptr);
  }
  Stream* s = new Stream(this, !client, id);
  uv_tcp_init(loop_, &s->tcp);
  s->tcp.data = s;
  byId_[id] = s;
  return s;
}

// ---- closing ----

void IoLoop::close(Stream* s) {
  if (s->st.closing) return;
  s->st.closing = true;
  if (s->st.reading) uv_read_stop(s->handle());
  s->st.reading = false;
  uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), OnClosed);
}

void IoLoop::fail(Stream* s, int code) {
  if (s->error == 0) s->error = static_cast<int16_t>(code);
  close(s);
}

void IoLoop::OnClosed(uv_handle_t* h) {
  Stream* s = static_cast<Stream*>(h->data);
  if (s->loop == nullptr) {
    delete s;
    return;
  }
  s->loop->closed(s);
}

void IoLoop::closed(Stream* s) {
  s->out.reset(pool_);
  deliverReads();  // this stream's last reads come before its close
  events_->close(s->id, s->error != 0 ? uv_err_name(s->error) : nullptr);
  byId_[s->id] = nullptr;
  freeIds_.push_back(s->id);
  delete s;
}

// ---- reading ----

void IoLoop::startReading(Stream* s) {
  if (!s->st.shouldRead()) return;
  int r = uv_read_start(s->handle(), OnAlloc, OnRead);
  if (r < 0) fail(s, r);
  else s->st.reading = true;
}

void IoLoop::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  // record() delivers the batch before the room gets below ReadBatch::kMinRoom.
  ReadBatch& b = static_cast<Stream*>(h->data)->loop->batch_;
  buf->base = b.room();
  buf->len = b.roomSize();
}

void IoLoop::OnRead(uv_stream_t* h, ssize_t nread, const uv_buf_t*) {
  Stream* s = static_cast<Stream*>(h->data);
  IoLoop* self = s->loop;
  if (self == nullptr || s->st.closing) return;
  if (nread > 0) {
    if (self->batch_.record(s->id, static_cast<size_t>(nread))) self->deliverReads();
  } else if (nread == UV_EOF) {
    s->st.eof = true;
    uv_read_stop(h);
    s->st.reading = false;
    if (s->st.finished()) {
      self->close(s);
    } else {
      self->deliverReads();
      self->events_->end(s->id);
    }
  } else if (nread < 0) {
    self->fail(s, static_cast<int>(nread));
  }
}

void IoLoop::readStart(int32_t id) {
  Stream* s = stream(id);
  if (s == nullptr) return;
  s->st.paused = false;
  startReading(s);
}

void IoLoop::readStop(int32_t id) {
  Stream* s = stream(id);
  if (s == nullptr) return;
  s->st.paused = true;
  if (s->st.reading && s->st.usable()) uv_read_stop(s->handle());
  s->st.reading = false;
}

// ---- writing ----

void IoLoop::append(int32_t id, const char* p, size_t n) {
  Stream* s = stream(id);
  if (s != nullptr && !s->st.closing) s->out.append(pool_, p, n);
}

size_t IoLoop::flush(int32_t id) {
  Stream* s = stream(id);
  if (s == nullptr) return 0;
  OutputQueue& out = s->out;
  if (!s->st.canWrite(out.writing())) return out.queued();
  if (out.pendingSize() == 0) {
    maybeShutdown(s);
    return 0;
  }
  uv_buf_t b = uv_buf_init(const_cast<char*>(out.pendingData()), static_cast<unsigned>(std::min(out.pendingSize(), kMaxWrite)));
  int n = uv_try_write(s->handle(), &b, 1);
  if (n == UV_EAGAIN) n = 0;
  if (n < 0) {
    fail(s, n);
    return 0;
  }
  if (!out.took(pool_, s->st.output(), static_cast<size_t>(n))) {
    maybeShutdown(s);
    return 0;
  }
  startAsyncWrite(s);
  return out.queued();
}

void IoLoop::startAsyncWrite(Stream* s) {
  // The rest goes out from the in-flight buffer, which the stream owns until OnWrite.
  OutputQueue& out = s->out;
  std::vector<uv_buf_t> bufs;
  const char* p = out.inflightData();
  for (size_t off = 0, len = out.inflightSize(); off < len; off += kMaxWrite) {
    bufs.push_back(uv_buf_init(const_cast<char*>(p + off), static_cast<unsigned>(std::min(len - off, kMaxWrite))));
  }
  uv_write_t* req = new uv_write_t;
  req->data = s;
  int r = uv_write(req, s->handle(), bufs.data(), static_cast<unsigned>(bufs.size()), OnWrite);
  if (r < 0) {
    delete req;
    out.inflightDone(pool_, s->st.output());
    fail(s, r);
  }
}

void IoLoop::OnWrite(uv_write_t* req, int status) {
  Stream* s = static_cast<Stream*>(req->data);
  delete req;
  IoLoop* self = s->loop;
  if (self == nullptr) return;  // detached: teardown gave the buffers back already
  s->out.inflightDone(self->pool_, s->st.output());
  if (s->st.closing) return;
  if (status < 0) return self->fail(s, status);
  if (s->out.pendingSize() > 0) self->flush(s->id);
  if (!s->out.writing() && s->st.usable()) {
    self->deliverReads();
    self->events_->drain(s->id);
  }
}

void IoLoop::maybeShutdown(Stream* s) {
  if (!s->st.shouldShutdown(s->out.writing(), s->out.pendingSize())) return;
  s->st.shutdownSent = true;
  uv_shutdown_t* req = new uv_shutdown_t;
  req->data = s;
  int r = uv_shutdown(req, s->handle(), OnShutdown);
  if (r < 0) {
    delete req;
    fail(s, r);
  }
}

void IoLoop::OnShutdown(uv_shutdown_t* req, int status) {
  Stream* s = static_cast<Stream*>(req->data);
  delete req;
  IoLoop* self = s->loop;
  if (self == nullptr || s->st.closing) return;
  s->st.shutdownDone = true;
  if (status < 0) self->fail(s, status);
  else if (s->st.eof) self->close(s);
}

void IoLoop::end(int32_t id) {
  Stream* s = stream(id);
  if (s == nullptr) return;
  s->st.wantShutdown = true;
  maybeShutdown(s);
}

void IoLoop::destroy(int32_t id) {
  Stream* s = stream(id);
  if (s != nullptr) close(s);
}

// ---- connecting ----

int32_t IoLoop::connect(const char* ip, int port) {
  sockaddr_storage addr;
  if (uv_ip4_addr(ip, port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
      uv_ip6_addr(ip, port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
    return UV_EINVAL;
  }
  Stream* s = newStream(false);
  s->st.open = true;
  s->st.connecting = true;
  uv_connect_t* req = new uv_connect_t;
  req->data = s;
  int r = uv_tcp_connect(req, &s->tcp, reinterpret_cast<sockaddr*>(&addr), OnConnect);
  if (r < 0) {
    delete req;
    s->st.connecting = false;
    fail(s, r);  // reported as a close, like a refused connection
  }
  return s->id;
}

void IoLoop::OnConnect(uv_connect_t* req, int status) {
  Stream* s = static_cast<Stream*>(req->data);
  delete req;
  IoLoop* self = s->loop;
  if (self == nullptr) return;
  s->st.connecting = false;
  if (s->st.closing) return;
  if (status < 0) return self->fail(s, status);
  self->startReading(s);
  self->deliverReads();
  self->events_->connect(s->id);
  if (s->st.usable() && s->out.pendingSize() > 0) self->flush(s->id);
}

// ---- options ----

void IoLoop::setNoDelay(int32_t id, bool on) {
  Stream* s = stream(id);
  if (s != nullptr && s->st.usable()) uv_tcp_nodelay(&s->tcp, on ? 1 : 0);
}

void IoLoop::setKeepAlive(int32_t id, bool on, unsigned delaySeconds) {
  Stream* s = stream(id);
  if (s != nullptr && s->st.usable()) uv_tcp_keepalive(&s->tcp, on ? 1 : 0, delaySeconds);
}

bool IoLoop::peer(int32_t id, char* name, size_t nameLen, int* port) {
  Stream* s = stream(id);
  if (s == nullptr || !s->st.usable()) return false;
  sockaddr_storage addr;
  int len = sizeof(addr);
  if (uv_tcp_getpeername(&s->tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return false;
  if (addr.ss_family == AF_INET6) {
    const sockaddr_in6* a = reinterpret_cast<const sockaddr_in6*>(&addr);
    uv_ip6_name(a, name, nameLen);
    *port = ntohs(a->sin6_port);
  } else {
    const sockaddr_in* a = reinterpret_cast<const sockaddr_in*>(&addr);
    uv_ip4_name(a, name, nameLen);
    *port = ntohs(a->sin_port);
  }
  return true;
}

bool IoLoop::buffered(int32_t id, size_t* queued, size_t* allocated) {
  Stream* s = stream(id);
  if (s == nullptr) return false;
  *queued = s->out.queued();
  *allocated = s->out.allocated();
  return true;
}

// ---- listening ----

namespace {

void OnConnection(uv_stream_t* server, int status) {
  Listener* l = static_cast<Listener*>(server->data);
  // Errors (EMFILE, ENFILE, ECONNABORTED) drop that one connection; libuv retries later.
  if (status < 0 || l->loop == nullptr) return;
  l->loop->onAccepted(l);
}

void FreeListener(uv_handle_t* h) { delete static_cast<Listener*>(h->data); }

}  // namespace

int32_t IoLoop::listen(const char* ip, int port, int backlog, bool reusePort, int* boundPort) {
  sockaddr_storage addr;
  socklen_t addrLen;
  if (uv_ip4_addr(ip, port, reinterpret_cast<sockaddr_in*>(&addr)) == 0) {
    addrLen = sizeof(sockaddr_in);
  } else if (uv_ip6_addr(ip, port, reinterpret_cast<sockaddr_in6*>(&addr)) == 0) {
    addrLen = sizeof(sockaddr_in6);
  } else {
    return UV_EINVAL;
  }
#ifndef SO_REUSEPORT
  if (reusePort) return UV_ENOTSUP;
#endif
  int fd = ::socket(addr.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  auto sysFail = [fd]() {
    int e = errno;
    ::close(fd);
    return -e;
  };
  int one = 1, zero = 0;
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  // Like Node: SO_REUSEADDR (restart while old connections are in TIME_WAIT) and dual stack on ::.
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) return sysFail();
  if (addr.ss_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
#ifdef SO_REUSEPORT
  if (reusePort && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) return sysFail();
#endif
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addrLen) != 0) return sysFail();
  sockaddr_storage bound;
  socklen_t boundLen = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &boundLen) != 0) return sysFail();
  *boundPort = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  Listener* l = new Listener;
  l->loop = this;
  uv_tcp_init(loop_, &l->tcp);
  l->tcp.data = l;
  int r = uv_tcp_open(&l->tcp, fd);
  if (r < 0) ::close(fd);  // not adopted by the handle
  else r = uv_listen(reinterpret_cast<uv_stream_t*>(&l->tcp), backlog, OnConnection);
  if (r < 0) {
    l->loop = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), FreeListener);
    return r;
  }
  int32_t id = -1;
  for (size_t i = 0; i < listeners_.size(); i++) {
    if (listeners_[i] == nullptr) {
      id = static_cast<int32_t>(i);
      break;
    }
  }
  if (id < 0) {
    id = static_cast<int32_t>(listeners_.size());
    listeners_.push_back(nullptr);
  }
  l->id = id;
  listeners_[id] = l;
  return id;
}

void IoLoop::onAccepted(Listener* l) {
  Stream* s = newStream(true);
  int r = uv_accept(reinterpret_cast<uv_stream_t*>(&l->tcp), s->handle());
  if (r < 0) {
    // Nothing was reported for it: forget the id and free the handle quietly.
    byId_[s->id] = nullptr;
    freeIds_.push_back(s->id);
    s->loop = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), OnClosed);
    return;
  }
  s->st.open = true;
  s->st.paused = true;  // until the owner is attached (readStart)
  uv_tcp_nodelay(&s->tcp, 1);
  deliverReads();
  events_->accept(l->id, s->id);
}

void IoLoop::closeListener(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= listeners_.size() || listeners_[id] == nullptr) return;
  Listener* l = listeners_[id];
  listeners_[id] = nullptr;
  l->loop = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&l->tcp), FreeListener);
}

// ---- stats and teardown ----

IoTotals IoLoop::totals() const {
  IoTotals t;
  for (const Stream* s : byId_) {
    if (s == nullptr) continue;
    t.streams++;
    size_t queued = s->out.queued(), allocated = s->out.allocated();
    t.outputQueued += queued;
    t.outputAllocated += allocated;
    if (queued > t.maxStreamQueued) t.maxStreamQueued = queued;
    if (allocated > t.maxStreamAllocated) t.maxStreamAllocated = allocated;
  }
  t.poolBytes = pool_.bytes();
  t.arenaBytes = batch_.arenaBytes();
  t.inputHeld = batch_.used();
  t.streamStateBytes = t.streams * sizeof(Stream);
  return t;
}

void IoLoop::teardown() {
  tornDown_ = true;
  for (Stream* s : byId_) {
    if (s == nullptr) continue;
    s->loop = nullptr;
    s->out.reset(pool_);  // libuv does not read a cancelled write's data
    if (!s->st.closing) uv_close(reinterpret_cast<uv_handle_t*>(&s->tcp), OnClosed);
    s->st.closing = true;
  }
  byId_.clear();
  freeIds_.clear();
  for (size_t i = 0; i < listeners_.size(); i++) closeListener(static_cast<int32_t>(i));
  listeners_.clear();
  batch_.reset();
  if (check_ != nullptr) {
    uv_check_stop(check_);
    uv_close(reinterpret_cast<uv_handle_t*>(check_), [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
    check_ = nullptr;
  }
}

}  // namespace io
}  // namespace kvstore
