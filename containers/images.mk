# Container images (issue 5). Included from the top-level Makefile (`-include
# containers/images.mk`); every path here is relative to the repository root.
#
#   make wheels       the wheelhouse: serving's wheel and every dependency, for Linux
#                     x86_64 / CPython $(WHEEL_PYTHON), pinned to the versions in the venv
#   make base-image   a Debian bookworm + python3 image made with debootstrap, for
#                     machines that cannot pull python:3.11-slim-bookworm (needs root)
#   make build        the model, sklearn, sparkml, xgboost and blazingtext images, built from the wheelhouse
#                     with no network access
#
# Offline: make wheels base-image && make build BASE_IMAGE=$(OFFLINE_BASE_IMAGE)

# The project venv's python; the top-level Makefile's PYTHON is the one that creates it.
IMAGES_PYTHON ?= .venv/bin/python
DOCKER ?= docker
BASE_IMAGE ?= python:3.11-slim-bookworm
OFFLINE_BASE_IMAGE ?= serving-python:3.11-bookworm
IMAGE_PREFIX ?= serving
IMAGE_TAG ?= latest
WHEELHOUSE ?= build/wheels
# Debian bookworm has glibc 2.36: any manylinux wheel up to that runs in the images. pip
# matches --platform tags exactly, so every manylinux_2_N up to it is listed (with the old
# aliases of 2_17, 2_12 and 2_5).
WHEEL_ARCH ?= x86_64
WHEEL_GLIBC_MINOR ?= 36
WHEEL_PLATFORMS = $(foreach n,$(shell seq 5 $(WHEEL_GLIBC_MINOR)),--platform manylinux_2_$(n)_$(WHEEL_ARCH)) \
    $(foreach old,manylinux2014 manylinux2010 manylinux1,--platform $(old)_$(WHEEL_ARCH))
WHEEL_PYTHON ?= 3.11
# Fixed wheel timestamps: an unchanged source tree gives a byte-identical wheel, so
# docker's build cache still hits on the next `make build`.
SOURCE_DATE_EPOCH ?= 315532800

MODEL_IMAGE = $(IMAGE_PREFIX)-model:$(IMAGE_TAG)

.PHONY: wheels base-image build image-model image-sklearn image-sparkml image-xgboost image-blazingtext

# Downloads are kept between runs (pip skips files already in the wheelhouse); only
# serving's own wheel is rebuilt every time. $(STAMP), when the top-level Makefile
# defines it, makes sure the venv is installed first.
wheels: $(STAMP)
	mkdir -p $(WHEELHOUSE)
	rm -f $(WHEELHOUSE)/serving-*.whl
	rm -rf build/lib  # setuptools' staging folder: a module deleted from the tree would linger there
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(IMAGES_PYTHON) -m pip wheel --quiet --no-deps --wheel-dir $(WHEELHOUSE) .
	$(IMAGES_PYTHON) -m pip freeze --exclude-editable | grep -v -e '^serving==' -e ' @ ' > $(WHEELHOUSE)/constraints.txt
	$(IMAGES_PYTHON) -m pip download --quiet --dest $(WHEELHOUSE) --only-binary=:all: \
	    $(WHEEL_PLATFORMS) --python-version $(WHEEL_PYTHON) --implementation cp \
	    --constraint $(WHEELHOUSE)/constraints.txt \
	    "serving[sklearn,sparkml,xgboost,blazingtext] @ file://$$(ls $(abspath $(WHEELHOUSE))/serving-*.whl)"

$(WHEELHOUSE)/constraints.txt:
	@echo "no wheelhouse in $(WHEELHOUSE): run 'make wheels' first" >&2; exit 1

base-image:
	containers/base-image.sh $(OFFLINE_BASE_IMAGE)

build: image-model image-sklearn image-sparkml image-xgboost image-blazingtext

# --force-rm: a failed step leaves no stopped container behind.
image-model: $(WHEELHOUSE)/constraints.txt
	$(DOCKER) build --force-rm --build-arg BASE_IMAGE=$(BASE_IMAGE) \
	    -t $(MODEL_IMAGE) -f containers/model/Dockerfile $(WHEELHOUSE)

image-sklearn image-sparkml image-xgboost image-blazingtext: image-%: image-model
	$(DOCKER) build --force-rm --build-arg MODEL_IMAGE=$(MODEL_IMAGE) --build-arg FRAMEWORK=$* \
	    -t $(IMAGE_PREFIX)-$*:$(IMAGE_TAG) -f containers/framework/Dockerfile $(WHEELHOUSE)
