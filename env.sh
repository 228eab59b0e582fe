# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
# Source this file from the repository root (bash or zsh) after `make setup`:
#     . ./env.sh
# It activates the project's virtual environment (ROS 2 Jazzy wheels, PyTorch), makes the
# wheels' ament prefix visible, sources the colcon workspace and puts the package's
# executables (kufenet, grasp_detector, ...) on PATH.
_kufenet_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
if [ ! -x "$_kufenet_root/.venv/bin/python" ]; then
  echo "env.sh: no virtual environment yet; run 'make setup' first" >&2
  return 1 2>/dev/null || exit 1
fi
. "$_kufenet_root/.venv/bin/activate"
case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;; esac
case ":${CMAKE_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" ;; esac
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# colcon's setup scripts read unset variables: source them with nounset off.
case $- in *u*) _kufenet_nounset=1; set +u ;; *) _kufenet_nounset= ;; esac
if [ -f "$_kufenet_root/install/setup.bash" ] && [ -n "${BASH_VERSION:-}" ]; then
  . "$_kufenet_root/install/setup.bash"
elif [ -f "$_kufenet_root/install/setup.sh" ]; then
  COLCON_CURRENT_PREFIX="$_kufenet_root/install" . "$_kufenet_root/install/setup.sh"
fi
case ":$PATH:" in *":$_kufenet_root/install/kufenet_grasp/lib/kufenet_grasp:"*) ;; *)
  export PATH="$_kufenet_root/install/kufenet_grasp/lib/kufenet_grasp:$PATH" ;; esac
[ -n "$_kufenet_nounset" ] && set -u
unset _kufenet_root _kufenet_nounset
