"""MA(1-x)FA(x)PbI3: molecules, tilts, structures, modes, phases, the MPB."""
