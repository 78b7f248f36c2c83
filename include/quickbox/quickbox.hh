/// \file quickbox.hh
/// \brief The whole public API of the Quickbox C++ library.
#pragma once

#include "quickbox/engine.hh"
#include "quickbox/network.hh"
#include "quickbox/result.hh"
#include "quickbox/sandbox.hh"
#include "quickbox/typescript.hh"
#include "quickbox/value.hh"
