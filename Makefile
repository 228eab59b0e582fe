# kufenet_grasp: set up, build and test on a machine without a ROS install.
#   make setup   virtual environment (pinned ROS 2 Jazzy wheels, torch 2.13.0 CPU) + colcon build
#   make test    setup if needed, then the whole test suite (unit, lint, rclpy nodes over DDS)
#   make test-fast  -m "not ros and not slow" in 2 processes: leaves out rclpy/DDS tests and the
#                   slow ones (linters, mypy, colcon build, exports, training); see setup.cfg
#   make build   rebuild both packages
#   make format  rewrite quotes and import order as ament_flake8 wants them (ruff)
#   make colcon-test  the same suite through colcon test, then colcon test-result --verbose
# On a machine with ROS 2 installed, see README.md for the rosdep/colcon route instead.
SHELL := /bin/bash
.SHELLFLAGS := -e -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
STAMPS := .stamps
PIP := $(VENV)/bin/python -m pip
# Both packages must be named: colcon stops descending once the root is a package.
COLCON_BUILD := colcon build --symlink-install --base-paths . kufenet_msgs \
	--event-handlers console_cohesion- summary+
BUILD_INPUTS := package.xml setup.py setup.cfg resource/kufenet_grasp \
	$(shell find kufenet_msgs launch config models -type f 2>/dev/null | sort)
PYTEST_ARGS ?=
# colcon runs pytest on test/ with setup.cfg's [tool:pytest] and writes build/*/pytest.xml;
# colcon test-result fails when any test did.
COLCON_TEST := colcon test --base-paths . kufenet_msgs --packages-select kufenet_grasp kufenet_msgs \
	--event-handlers console_cohesion- summary+

.PHONY: help setup build test test-fast colcon-test lint format freeze clean demo

help:
	@sed -n '2,9p' Makefile

setup: $(STAMPS)/build

$(STAMPS)/venv: requirements/ros-jazzy.txt requirements/python.txt requirements/ros-pip.txt \
		requirements/constraints.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -c requirements/constraints.txt \
		-r requirements/ros-jazzy.txt -r requirements/python.txt
	$(VENV)/bin/python tools/fix_ros_wheel_cmake.py
	@mkdir -p $(STAMPS) && touch $@

$(STAMPS)/build: $(STAMPS)/venv $(BUILD_INPUTS)
	. ./env.sh && $(COLCON_BUILD)
	@touch $@

build:
	@rm -f $(STAMPS)/build
	@$(MAKE) --no-print-directory $(STAMPS)/build

test: setup
	. ./env.sh && python -m pytest test $(PYTEST_ARGS)

# two pytest workers (pytest-xdist): the fast tests share no state, and the two cores each
# take half (PYTEST_ARGS="-n 0" runs them in one process)
test-fast: setup
	. ./env.sh && python -m pytest test -m 'not ros and not slow' -n 2 $(PYTEST_ARGS)

colcon-test: setup
	. ./env.sh && $(COLCON_TEST) && colcon test-result --verbose

demo: setup
	. ./env.sh && kufenet demo $(DEMO_ARGS)

lint: setup
	. ./env.sh && python -m pytest test/test_lint.py $(PYTEST_ARGS)

format: setup
	. ./env.sh && ruff check --fix kufenet_grasp launch test tools setup.py

freeze:
	( sed -n '1,2p' requirements/constraints.txt; \
	  $(PIP) freeze --disable-pip-version-check | sed 's/^torch==\(.*\)+cpu$$/torch==\1/' ) \
		> requirements/constraints.txt.new
	mv requirements/constraints.txt.new requirements/constraints.txt

clean:
	rm -rf build install log $(STAMPS)
