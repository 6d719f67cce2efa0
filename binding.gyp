# One build: the forwarding core as a plain static library (no <napi.h>), its test binary, the
# node-addon-api binding, the native traffic tool mcrgen and the hot-path gate's replay harness
# (a test, native/tests/hot-path). The bench's own tools are built by bench/setup.ts at bench time.
{
  "target_defaults": {
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
    "cflags_cc": ["-std=c++20", "-O2", "-g", "-fno-omit-frame-pointer", "-Wall", "-Wextra",
                  "-Wno-missing-field-initializers", "-fstack-protector-strong"],
    "include_dirs": ["native/include"]
  },
  "targets": [
    {
      "target_name": "mcr_core",
      "type": "static_library",
      "cflags": ["-fPIC"],
      "sources": [
        "native/core/parse.cc",
        "native/core/counters.cc",
        "native/core/rule_table.cc",
        "native/core/ingress_ring.cc",
        "native/core/egress.cc",
        "native/core/membership.cc",
        "native/core/worker.cc",
        "native/core/relay.cc",
        "native/core/affinity.cc",
        "native/core/xdp.cc",
        "native/core/igmp_socket.cc",
        "native/core/pim_socket.cc",
        "native/core/route_lookup.cc",
        "native/core/ip_sender.cc"
      ],
      "link_settings": {"libraries": ["-lbpf"]}
    },
    {
      "target_name": "mcr_xdp",
      "type": "none",
      "actions": [
        {
          "action_name": "compile_xdp_programs",
          "inputs": ["native/xdp/forward.bpf.c", "native/include/mcr/xdp_maps.h"],
          "outputs": ["<(PRODUCT_DIR)/mcr_xdp.bpf.o"],
          "action": ["clang", "-O2", "-g", "-Wall", "-target", "bpf", "-I/usr/include/<!(gcc -print-multiarch)",
                     "-Inative/include", "-c", "native/xdp/forward.bpf.c", "-o", "<(PRODUCT_DIR)/mcr_xdp.bpf.o"],
          "message": "Compiling the XDP programs (clang -target bpf)"
        }
      ]
    },
    {
      "target_name": "mcr_native",
      "dependencies": ["mcr_core", "mcr_xdp"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=9", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "sources": [
        "native/binding/addon.cc",
        "native/binding/relay_wrap.cc",
        "native/binding/counters_wrap.cc",
        "native/binding/igmp_socket_wrap.cc",
        "native/binding/pim_socket_wrap.cc",
        "native/binding/route_lookup_wrap.cc",
        "native/binding/ip_sender_wrap.cc"
      ]
    },
    {
      "target_name": "mcr_core_tests",
      "type": "executable",
      "dependencies": ["mcr_core"],
      "libraries": ["-lpthread"],
      "actions": [
        {
          "action_name": "gen_frame_fixtures",
          "inputs": ["native/tests/gen-frame-fixtures.js", "tests/fixtures/frames.json"],
          "outputs": ["<(INTERMEDIATE_DIR)/frame_fixtures.h"],
          "action": ["node", "native/tests/gen-frame-fixtures.js", "tests/fixtures/frames.json", "<(INTERMEDIATE_DIR)/frame_fixtures.h"],
          "message": "Generating frame_fixtures.h from tests/fixtures/frames.json"
        }
      ],
      "include_dirs": ["native/tests", "<(INTERMEDIATE_DIR)"],
      "sources": [
        "native/tests/core_tests_main.cc",
        "native/tests/parse_tests.cc",
        "native/tests/rule_table_tests.cc",
        "native/tests/counter_tests.cc",
        "native/tests/batcher_tests.cc",
        "native/tests/forward_tests.cc",
        "native/tests/packet_egress_tests.cc",
        "native/tests/ring_tests.cc",
        "native/tests/igmp_socket_tests.cc",
        "native/tests/pim_socket_tests.cc",
        "native/tests/route_lookup_tests.cc",
        "native/tests/ip_sender_tests.cc"
      ]
    },
    {
      "target_name": "fanout_advance",
      "type": "executable",
      "libraries": ["-lpthread"],
      "sources": ["native/tests/fanout_advance.cc"]
    },
    {
      "target_name": "mcrgen",
      "type": "executable",
      "libraries": ["-lpthread"],
      "sources": [
        "native/tools/mcrgen/main.cc",
        "native/tools/mcrgen/common.cc",
        "native/tools/mcrgen/send.cc",
        "native/tools/mcrgen/recv.cc",
        "native/tools/mcrgen/inject.cc"
      ]
    },
    {
      "target_name": "mcr_replay",
      "type": "executable",
      "dependencies": ["mcr_core"],
      "include_dirs": ["native/tests"],
      "sources": ["native/tests/hot-path/replay.cc"]
    },
    {
      "target_name": "mcr_replay_nospans",
      "type": "executable",
      "defines": ["MCR_ENABLE_SPANS=0"],
      "cflags": ["-fPIC"],
      "include_dirs": ["native/tests"],
      "sources": [
        "native/tests/hot-path/replay.cc",
        "native/core/parse.cc",
        "native/core/counters.cc",
        "native/core/rule_table.cc",
        "native/core/egress.cc"
      ]
    }
  ]
}
