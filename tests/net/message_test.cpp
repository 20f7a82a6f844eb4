#include "net/message.hpp"

#include <catch2/catch.hpp>

#include "common/error.hpp"

using namespace troupe;
using namespace troupe::net;

TEST_CASE("every message type has a name and survives its wire number", "[net][message]") {
  REQUIRE(all_msg_types().size() >= 15);
  for (auto t : all_msg_types()) {
    const auto wire = static_cast<std::uint16_t>(t);
    REQUIRE(msg_type_from_wire(wire) == t);
    REQUIRE(to_string(t).find("msg_type(") == std::string::npos);
  }
  CHECK(to_string(msg_type::push_gradient) == "push_gradient");
  CHECK_FALSE(msg_type_from_wire(0));
  CHECK_FALSE(msg_type_from_wire(999));
  CHECK(to_string(static_cast<msg_type>(999)) == "msg_type(999)");
}

TEST_CASE("dtypes have sizes, names and wire values", "[net][message]") {
  CHECK(element_size(dtype::f32) == 4);
  CHECK(element_size(dtype::i32) == 4);
  CHECK(element_size(dtype::u8) == 1);
  CHECK(element_size(dtype::u16) == 2);
  CHECK(to_string(dtype::i32) == "i32");
  CHECK(to_string(dtype::u16) == "u16");
  CHECK(dtype_from_wire(3) == dtype::u8);
  CHECK(dtype_from_wire(4) == dtype::u16);
  CHECK_FALSE(dtype_from_wire(0));
  CHECK_FALSE(dtype_from_wire(5));
  CHECK_THROWS_AS(element_size(static_cast<dtype>(9)), troupe::error);
}

TEST_CASE("a tensor descriptor counts elements and bytes and refuses overflow", "[net][message]") {
  tensor_desc d{"w", dtype::f32, {10, 30}};
  CHECK(d.elements() == 300);
  CHECK(d.bytes() == 1200);
  CHECK(d.describe() == "'w' [10, 30] f32");
  CHECK(tensor_desc{"s", dtype::u8, {}}.bytes() == 1); // a scalar
  CHECK(tensor_desc{"e", dtype::i32, {5, 0}}.bytes() == 0);
  tensor_desc huge{"h", dtype::f32, {0xffffffffU, 0xffffffffU, 0xffffffffU}};
  CHECK_THROWS_AS(huge.elements(), troupe::error);
}

TEST_CASE("tensors are added by copy, by move or shared, and viewed with checks", "[net][message]") {
  message m(msg_type::params);
  const std::vector<float> w{1, 2, 3, 4, 5, 6};
  m.add_tensor_copy("w", {2, 3}, w.data(), w.size());
  m.add_tensor("idx", {3}, std::vector<std::int32_t>{7, -8, 9});
  auto shared = std::make_shared<std::vector<std::uint8_t>>(std::vector<std::uint8_t>{1, 2});
  m.add_tensor("mask", {2}, shared);
  REQUIRE(m.h.tensors.size() == 3);
  REQUIRE(m.frames.size() == 3);
  CHECK(m.payload_bytes() == 24 + 12 + 2);

  const auto vw = m.view<float>(0);
  CHECK(std::vector<float>(vw.begin(), vw.end()) == w);
  CHECK(vw.desc->name == "w");
  CHECK(m.view<std::int32_t>(1)[1] == -8);
  CHECK(m.view<std::uint8_t>(2).data == shared->data()); // shared, not copied
  CHECK(m.find("mask") == 2U);
  CHECK_FALSE(m.find("nope"));

  CHECK_THROWS_AS(m.view<float>(1), troupe::error); // wrong dtype
  CHECK_THROWS_AS(m.view<float>(3), troupe::error); // no such tensor
  CHECK_THROWS_AS(m.add_tensor_copy("bad", {2, 2}, w.data(), w.size()), troupe::error);
}

TEST_CASE("a shared payload keeps its buffer alive exactly as long as it is held", "[net][message]") {
  auto buf = std::make_shared<const std::vector<float>>(1000, 2.5f);
  std::weak_ptr<const std::vector<float>> watch = buf;
  {
    message m;
    m.add_tensor("g", {1000}, buf);
    CHECK(buf.use_count() == 2);
    buf.reset();
    CHECK_FALSE(watch.expired());
    CHECK(m.view<float>(0)[999] == 2.5f);
  }
  CHECK(watch.expired());
}

TEST_CASE("payload copies are aligned and independent of their source", "[net][message]") {
  std::vector<char> src(13, 'x');
  const auto p = payload::copy_of(src.data() + 1, 12);
  src[1] = 'y';
  CHECK(p.size() == 12);
  CHECK(reinterpret_cast<std::uintptr_t>(p.data()) % 8 == 0);
  CHECK(p.view() == std::string(12, 'x'));
  CHECK(payload::from_string("abc").view() == "abc");
  CHECK(payload::copy_of(nullptr, 0).size() == 0);
}
