#!/usr/bin/env bash
# Run on the board (or any Linux machine): which board it is, what Ascend
# stack is installed, and which ATC --soc_version matches the chip. Prints
# "not found" for whatever is missing and always exits 0 with a one-block
# summary, so it is safe to run anywhere (docs/board_guide.md, "Check the board").
#
# Environment: PYTHON (default python3), ASCEND_HOME (default /usr/local/Ascend),
# ASCEND_TOOLKIT_HOME (a CANN toolkit directory, checked first when set),
# DEVICE_TREE_MODEL_FILE (default /proc/device-tree/model: the board's name).
set -u

PYTHON="${PYTHON:-python3}"
ASCEND_HOME="${ASCEND_HOME:-/usr/local/Ascend}"
DEVICE_TREE_MODEL_FILE="${DEVICE_TREE_MODEL_FILE:-/proc/device-tree/model}"
# The --soc_version values `python -m convert atc` accepts (convert/socs.py, SOC_TABLE;
# tests/test_board_check.py keeps the two lists equal).
KNOWN_SOCS="Ascend310 Ascend310B1 Ascend310B4"

section() { printf '\n== %s\n' "$1"; }

# ---- npu-smi --------------------------------------------------------------
section "npu-smi"
NPU_SMI=""
if command -v npu-smi >/dev/null 2>&1; then
  NPU_SMI="$(command -v npu-smi)"
elif [ -x /usr/local/sbin/npu-smi ]; then
  NPU_SMI=/usr/local/sbin/npu-smi
fi
NPU_INFO=""
if [ -n "$NPU_SMI" ]; then
  NPU_INFO="$("$NPU_SMI" info 2>&1)" || true
  printf '%s\n' "$NPU_INFO"
  npu_smi_summary="$NPU_SMI"
else
  echo "npu-smi: not found"
  npu_smi_summary="not found"
fi

# ---- CANN version -----------------------------------------------------------
# ascend_toolkit_install.info holds a line "version=X.Y.Z".
section "CANN"
cann_version="not found"
for info in ${ASCEND_TOOLKIT_HOME:+"$ASCEND_TOOLKIT_HOME"/ascend_toolkit_install.info "$ASCEND_TOOLKIT_HOME"/*/ascend_toolkit_install.info} \
            "$ASCEND_HOME"/ascend-toolkit/latest/*/ascend_toolkit_install.info; do
  [ -f "$info" ] || continue
  v="$(sed -n 's/^[[:space:]]*version[[:space:]]*=[[:space:]]*//p' "$info" | head -n 1)"
  if [ -n "$v" ]; then
    cann_version="$v"
    echo "CANN toolkit: $v ($info)"
    break
  fi
done
[ "$cann_version" = "not found" ] && echo "CANN toolkit: not found (looked in ${ASCEND_TOOLKIT_HOME:-\$ASCEND_TOOLKIT_HOME unset} and $ASCEND_HOME/ascend-toolkit/latest)"

# ---- Python and acl ---------------------------------------------------------
section "Python"
if command -v "$PYTHON" >/dev/null 2>&1; then
  python_version="$("$PYTHON" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])' 2>&1)"
  echo "$PYTHON: $python_version"
  # Prints "acl OK <soc name>" or "acl not found: <reason>".
  acl_line="$("$PYTHON" - <<'EOF'
import sys
try:
    import acl
except Exception as exc:  # ImportError, or a broken install
    print("acl not found: %s" % (str(exc).splitlines() or [type(exc).__name__])[0])
else:
    soc = ""
    try:
        ret = acl.init()
        soc = acl.get_soc_name() or ""
        if ret == 0:
            acl.finalize()
    except Exception as exc:  # importable but unusable: report, keep going
        print("acl.get_soc_name failed: %s" % exc, file=sys.stderr)
    print("acl OK %s" % soc)
EOF
)" || true
  echo "$acl_line"
  for mod in numpy cv2 onnxruntime; do
    v="$("$PYTHON" -c "import $mod; print($mod.__version__)" 2>/dev/null)" || v="not found"
    echo "$mod: ${v:-not found}"
  done
else
  python_version="not found"
  acl_line="acl not found: no $PYTHON"
  echo "$PYTHON: not found"
fi
case "$acl_line" in
  "acl OK"*) acl_summary="importable"; acl_soc="$(printf '%s' "${acl_line#acl OK}" | tr -d '[:space:]')" ;;
  *) acl_summary="not found"; acl_soc="" ;;
esac

# ---- SoC name and ATC --soc_version ----------------------------------------
# acl.get_soc_name() already returns the ATC name (e.g. Ascend310); npu-smi
# lists the chip as "310" / "310B4" in its table, and ATC wants "Ascend" + it.
section "SoC"
soc_name=""
soc_source=""
if [ -n "$acl_soc" ]; then
  soc_name="$acl_soc"
  soc_source="acl.get_soc_name()"
elif [ -n "$NPU_INFO" ]; then
  chip="$(printf '%s\n' "$NPU_INFO" | sed -n 's/^|[[:space:]]*[0-9][0-9]*[[:space:]][[:space:]]*\(310[A-Za-z0-9]*\)[[:space:]].*/\1/p' | head -n 1)"
  if [ -n "$chip" ]; then
    soc_name="Ascend$chip"
    soc_source="npu-smi info"
  fi
fi
if [ -n "$soc_name" ]; then
  echo "SoC: $soc_name (from $soc_source)"
  soc_version="$soc_name"
else
  echo "SoC: not found"
  soc_version="not found (Atlas 200 DK: Ascend310; Atlas 200I DK A2, Orange Pi AIpro: Ascend310B<n>, see npu-smi info)"
fi

# ---- Board -----------------------------------------------------------------
# The device tree's model string names the board where the image sets it; the
# exact strings of the Atlas and Orange Pi images were not seen here, so the
# match ignores case, spaces and dashes. Without it, the SoC tells the family.
section "Board"
dt_model=""
[ -r "$DEVICE_TREE_MODEL_FILE" ] && dt_model="$(tr -d '\000' < "$DEVICE_TREE_MODEL_FILE" 2>/dev/null)"
echo "device tree model: ${dt_model:-not found}"
dt_key="$(printf '%s' "$dt_model" | tr '[:upper:]' '[:lower:]' | tr -d ' _-')"
case "$dt_key" in
  *orangepiaipro*) board="Orange Pi AIpro" ;;
  *200idka2*) board="Atlas 200I DK A2" ;;
  *200dk*) board="Atlas 200 DK" ;;
  *)
    case "$soc_name" in
      Ascend310B*) board="an Ascend 310B board (Atlas 200I DK A2 or Orange Pi AIpro), from the SoC" ;;
      Ascend310) board="an Ascend 310 board (Atlas 200 DK), from the SoC" ;;
      *) board="not found" ;;
    esac ;;
esac
echo "board: $board"
case "$soc_name" in
  Ascend310B*) echo "note: to run atc on this board, the convert.sh of \`convert atc --soc $soc_name\` limits ATC's parallel compilers (TE_PARALLEL_COMPILER=1, MAX_COMPILE_CORE_NUMBER=1)" ;;
esac
if [ -n "$soc_name" ]; then
  case " $KNOWN_SOCS " in
    *" $soc_name "*) ;;
    *) soc_version="$soc_name (not one that convert atc accepts: $KNOWN_SOCS)" ;;
  esac
fi

section "Summary"
echo "board:          $board"
echo "npu-smi:        $npu_smi_summary"
echo "CANN:           $cann_version"
echo "python:         $python_version"
echo "import acl:     $acl_summary"
echo "SoC:            ${soc_name:-not found}"
echo "atc soc_version: $soc_version"
exit 0
