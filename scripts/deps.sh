# Sourced by scripts/main and scripts/test: installs the Debian packages the build
# needs, only those missing (dpkg -s), so a rerun on a ready machine needs no network.
diffauction_packages=(cmake g++ make libeigen3-dev libfmt-dev catch2 libbenchmark-dev)

ensure_deps() {
    if ! command -v dpkg >/dev/null 2>&1; then
        echo "deps: no dpkg here (not Debian); assuming ${diffauction_packages[*]} are installed" >&2
        return 0
    fi
    local missing=() p
    for p in "${diffauction_packages[@]}"; do
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
