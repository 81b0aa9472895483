# The real-data converters (models/data: conv_labelled.py, summarize.py, verify_ttm.py) on a
# tiny synthetic set, the last one with the trainer's reader (ctest -L models).
# Registered by one line in tests/models/CMakeLists.txt:
#   include(${CMAKE_CURRENT_SOURCE_DIR}/data_conv.cmake)
add_test(NAME data_conv
  COMMAND /usr/bin/python3 ${CMAKE_CURRENT_SOURCE_DIR}/test_data_conv.py
          ${PROJECT_SOURCE_DIR} $<TARGET_FILE:traffictriage>)
set_tests_properties(data_conv PROPERTIES LABELS models TIMEOUT 120)
