// Precompiled for the unit tests: the common set plus GoogleTest.
#include "common.hpp"

#include <gtest/gtest.h>
