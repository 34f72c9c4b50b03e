# Sourced by scripts/main, scripts/test and scripts/fuzz: installs the Debian packages
# the build needs, only those missing (dpkg -s), so a rerun on a ready machine needs no
# network. `ensure_deps` checks the build's packages below; `ensure_deps PKG...` checks
# the packages named instead (scripts/fuzz: clang and its libFuzzer runtime).
diffauction_packages=(cmake g++ make libeigen3-dev libfmt-dev catch2 libbenchmark-dev)

ensure_deps() {
    local wanted=("$@")
    [ ${#wanted[@]} -eq 0 ] && wanted=("${diffauction_packages[@]}")
    if ! command -v dpkg >/dev/null 2>&1; then
        echo "deps: no dpkg here (not Debian); assuming ${wanted[*]} are installed" >&2
        return 0
    fi
    local missing=() p
    for p in "${wanted[@]}"; do
        [[ "$(dpkg -s "$p" 2>/dev/null)" == *"Status: install ok installed"* ]] || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "deps: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "deps: run as root (or install sudo) to install ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" apt-get update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}
