"""signseg.cpu reads the model and flags as Linux writes /proc/cpuinfo, one block per core."""
from signseg.cpu import cpu_flags, cpu_model, int8_units


def test_flags_and_model_come_from_every_core_and_only_their_own_lines(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f avx512_vnni\n"
                    "bugs\t\t: amx_int8\n\n"  # a bug's name is not a flag
                    "processor\t: 1\nmodel name\t: Some Xeon\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    assert cpu_flags(info) == {"fpu", "avx2", "avx512f", "avx512_vnni"}
    assert cpu_model(info) == "Some Xeon"
    assert int8_units(info) == "Some Xeon: avx2 avx512f avx512_vnni"
    epyc = tmp_path / "epyc"
    epyc.write_text("processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse4_2 avx avx2 fma\n")
    assert int8_units(epyc) == "AMD EPYC: avx2"  # no VNNI: the int8 graphs keep to 7 bits for such CPUs


def test_a_system_without_cpuinfo_gets_no_flags_and_still_a_name(tmp_path):
    missing = tmp_path / "missing"
    assert cpu_flags(missing) == frozenset()
    assert cpu_model(missing)  # platform's name for the machine
    assert "none of" in int8_units(missing)
