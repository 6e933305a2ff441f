# Pleura's two commands: `make run` and `make test`. Both install the Debian packages that are
# missing (as root, with apt-get; nothing happens when all are present), build, then run.

SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
# One configuration for running, testing and benchmarking, so nothing is built twice. Release
# because decoding, compositing and the phantom are pixel loops; -enable-testing so the test
# targets can still use @testable imports.
BUILD_FLAGS := -c release -Xswiftc -enable-testing
BIN := .build/release/pleura

# What `pleura` needs to build and run.
RUN_PACKAGES := pkg-config libncursesw5-dev libsixel-dev libavformat-dev libavcodec-dev \
	libswscale-dev libavutil-dev libsqlite3-dev libtorch-dev python3-torch python3-torchvision \
	libdcmtk-dev libopenjp2-7-dev
# What the tests use as oracles and terminals: ffmpeg/ffprobe, img2sixel/sixel2png, a real sixel
# terminal (xterm under Xvfb, screenshots with ImageMagick, keys with xdotool), a second sixel
# terminal (mlterm), tmux, headless Chromium (renders the rating report) and python3-venv (the
# scipy/scikit-learn and pydicom reference venvs), dcmtk (dcmcjpeg/dcmcrle write the DICOM test
# files) and PostgreSQL (the store's second backend: a throwaway cluster per run, Scripts/pg-cluster.sh).
TEST_PACKAGES := ffmpeg libsixel-bin xterm xvfb x11-apps imagemagick xdotool tmux chafa hyperfine mlterm \
	chromium python3-venv dcmtk postgresql

.PHONY: run test build deps deps-test bench fuzz clean

run: deps build
	$(BIN) run Sessions/demo.toml

# The suite runs beside a throwaway PostgreSQL cluster (PLEURA_TEST_PG_URL), stopped afterwards.
test: deps deps-test build
	sh Scripts/pg-cluster.sh run -- $(SWIFT) test $(BUILD_FLAGS)

build:
	$(SWIFT) build $(BUILD_FLAGS)

bench: deps deps-test build
	$(BIN) bench

# libFuzzer harnesses (Fuzz/) for every reader of outside input, each run FUZZ_SECONDS at nice 19,
# one after another; built apart from the normal build (.build-fuzz). FUZZ_TARGETS picks some.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= csv jsonl labelstudio session keymap terminal media
fuzz: deps deps-test build
	sh Scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps:
	@sh Scripts/install-debian-packages.sh $(RUN_PACKAGES)

deps-test:
	@sh Scripts/install-debian-packages.sh $(TEST_PACKAGES)

clean:
	rm -rf .build .build-fuzz
