// Fixture of the layering_catches_violation test: a serving header that includes the
// trainer, the edge tests/headers/layering.cmake must reject. Never compiled.
#pragma once
#include "diffauction/train/trainer.hpp"
