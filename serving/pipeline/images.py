"""What an AWS SageMaker image URI in a pipeline spec means here.

A ``Containers`` list copied from a SageMaker ``CreateModel`` request names AWS's images
(``<account>.dkr.ecr.<region>.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3``). Where we
have an open implementation of the image (scikit-learn, SparkML Serving, XGBoost, BlazingText)
the container runs as that framework; every other AWS image (the built-in algorithms, the
deep-learning framework images) is refused at start-up with what to use instead. An image is
AWS's when its registry account is one AWS publishes SageMaker images from: account IDs are
global, so nobody else can push there, and a user's own repository called ``xgboost`` is the
user's image, not AWS's. The accounts are a table generated from the SageMaker Python SDK's
``image_uri_config`` (the SDK is a test dependency; the runtime never imports it). The tag
carries the framework version, which is checked against the one installed here: a scikit-learn
pickle from another minor release, or an XGBoost model from a newer release, gets a warning.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import metadata

from ..errors import ConfigurationError
from ..frameworks import FRAMEWORKS

# The repositories we have an open implementation of, in any AWS account: ``xgboost`` is the
# older XGBoost algorithm image (XGBoost 0.72, tags ``1`` and ``latest``).
OURS = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-sparkml-serving": "sparkml",
    "sagemaker-xgboost": "xgboost",
    "xgboost": "xgboost",
    "blazingtext": "blazingtext",
}

# The built-in algorithms, by repository, as the SageMaker guide names them.
ALGORITHMS = {
    "factorization-machines": "Factorization Machines",
    "forecasting-deepar": "DeepAR Forecasting",
    "image-classification": "Image Classification",
    "image-classification-neo": "Image Classification (compiled by SageMaker Neo)",
    "ipinsights": "IP Insights",
    "kmeans": "K-Means",
    "knn": "k-NN (k-nearest neighbors)",
    "lda": "LDA (Latent Dirichlet Allocation)",
    "linear-learner": "Linear Learner",
    "ntm": "NTM (Neural Topic Model)",
    "object-detection": "Object Detection",
    "object2vec": "Object2Vec",
    "pca": "PCA (Principal Component Analysis)",
    "randomcutforest": "Random Cut Forest",
    "semantic-segmentation": "Semantic Segmentation",
    "seq2seq": "Sequence-to-Sequence",
    "xgboost-neo": "XGBoost (compiled by SageMaker Neo)",
}

# AWS's other images, by the start of the repository name; the first match names it.
FAMILIES = (
    ("huggingface-", "Hugging Face"),
    ("tei", "Hugging Face Text Embeddings Inference"),
    ("djl-", "DJL Serving (large model inference)"),
    ("sagemaker-neo-", "SageMaker Neo (compiled models)"),
    ("sagemaker-inference-", "SageMaker Neo (compiled models)"),
    ("pytorch-", "PyTorch"),
    ("sagemaker-pytorch", "PyTorch"),
    ("tensorflow-", "TensorFlow"),
    ("sagemaker-tensorflow", "TensorFlow"),
    ("mxnet-", "MXNet"),
    ("sagemaker-mxnet", "MXNet"),
    ("sagemaker-chainer", "Chainer"),
    ("autogluon-", "AutoGluon"),
    ("sagemaker-tritonserver", "NVIDIA Triton Inference Server"),
    ("stabilityai-", "Stability AI"),
    ("sagemaker-rl-", "SageMaker reinforcement learning"),
    ("smdistributed-", "SageMaker distributed training"),
    ("sagemaker-spark-processing", "SageMaker Spark processing"),
    ("sagemaker-clarify", "SageMaker Clarify"),
    ("sagemaker-model-monitor", "SageMaker Model Monitor"),
    ("sagemaker-data-wrangler", "SageMaker Data Wrangler"),
    ("sagemaker-debugger", "SageMaker Debugger"),
    ("detailed-profiler", "SageMaker Debugger profiler"),
    ("sagemaker-base-python", "SageMaker Studio"),
    ("sagemaker-distribution", "SageMaker Studio"),
    ("sagemaker-geospatial", "SageMaker geospatial"),
)

# The DNS suffixes of AWS's partitions (commercial, China, GovCloud shares the first, the
# isolated ones, the European Sovereign Cloud), as botocore's endpoint data lists them.
DNS_SUFFIXES = ("amazonaws.com", "amazonaws.com.cn", "c2s.ic.gov", "sc2s.sgov.gov", "csp.hci.ic.gov",
                "cloud.adc-e.uk", "amazonaws.eu")

# <account>.dkr.ecr[-fips].<region>.<suffix>/<repository>[:<tag>][@<digest>]
REFERENCE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z]+(?:-[a-z]+)+-\d+)"
    r"\.(?P<suffix>" + "|".join(re.escape(s) for s in DNS_SUFFIXES) + r")"
    r"/(?P<repository>[a-z0-9]+(?:[._/-][a-z0-9]+)*)"
    r"(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?"
    r"(?:@(?P<digest>[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}))?",
    re.IGNORECASE,
)
VERSION = re.compile(r"(\d+)\.(\d+)(?=$|[.-])")

# Generated: `.venv/bin/python -m tests.pipeline.test_images --regenerate` rewrites the block
# from the installed SageMaker SDK's tables, and test_images checks it against them.
# BEGIN generated (sagemaker 2.257.7): every account of every image_uri_config "registries"
ACCOUNTS = frozenset("""
000907499111 001633400207 007051062584 007439368137 010526262399 010972774902 017069133835 021081402939
022667117163 024640144536 048378556238 048819808253 053634841547 054986407534 057415533634 064688005998
081189585635 081325390199 089933028263 094389454867 098760798382 102112518831 102471314380 103105715889
104374241257 105495057255 106583098589 107072934176 107173498710 108575199400 110948597952 117516905037
119527597002 121021644041 122526803553 122578899357 124985052026 126357580389 127363102723 131013547314
131546521161 136845547031 137914896644 141502667606 142351485170 143210264188 148761635175 151534178276
153931337802 156387875391 156813124566 159807026194 167761179201 173754725891 174368400705 174872318107
175620155138 184798709955 190319476487 199566480951 204372634319 204538143572 205493899709 205585389593
211125459255 211330385671 216881608335 217643126080 224300973850 226302683700 227234621604 236514542706
237065988967 238384257742 243637512696 245090515133 245179582081 245545462676 245909111842 246618743249
246785580436 249157047649 249704162688 250201462417 254080097072 257386234256 257758044811 258307448986
260923028637 263625296855 263933020539 266724342769 271483468897 272398656194 275950707576 276181064229
281123927165 286214385809 293181348795 297031611018 301217895009 303241398832 306415355426 306986355934
309385258863 310906938811 313743910680 314341159256 314815235551 314864569078 324986816169 330188676905
341280168497 341593696636 351501993468 353608530281 354813040037 355873309152 358593528301 364406365360
366743142698 370607712162 376037874950 377024640650 380164790875 380420809688 382416733822 387376663083
390048526115 390780980154 390948362332 394103062818 395420993607 396913743851 404615174143 406031935815
406833011540 408426139102 411392592546 411782140378 414596584902 415577184552 422173101802 422961961927
423003514399 424196993095 429704687514 430734990657 433757028032 437450045455 438346466558 440695851116
440796970383 442386744353 446045086412 446299261295 447278800020 450853457545 451049120500 452307495513
452832661640 453000072557 453252182341 453391408702 454834333376 455444449433 457447274322 462105765813
464438896020 467912361380 468650794304 469771592824 470317259841 471112967968 472730292857 474822919863
475088953585 479947661362 481561238223 482524230118 488287956546 490574956308 492215442770 492261229750
493642496378 495149712605 501404015308 503227376785 503895931360 510948584623 514117268639 515509971035
519511493484 520018980103 520713654638 522234722520 523751269255 523774347010 528757812139 533267296287
536280801234 539772159869 542918446943 544295431143 545423591354 550225433462 557239378090 559312083959
563025443158 563282790590 564864627153 566113047672 567556641782 569303640362 571004829621 574779866223
578805364391 579539705040 588750061953 590183813437 590183933784 592751261982 598674086554 601324751636
607024016150 615547856133 618459771430 623308166672 626614931356 628508329040 632365934929 633353088612
633930458069 637423239942 638885417683 644912444149 648430277019 649008135260 651117190479 658645717510
658757709296 659782779980 662702820516 663277389841 664544806723 667973535471 669540362728 669576153137
671472414489 675030665977 680080141114 680994064768 683313688378 685385470294 685455198987 692866216735
705930551576 707077482487 709848358524 710691900526 712309505854 712779665605 720646828776 724002660598
727897471807 730335477804 732049463269 737130764395 737474898029 740489534195 742091327244 744548109606
746233611703 746614075791 749696950732 749857270468 750251592176 751086301963 753923664805 756306329178
759080221371 763008648453 763104351884 763603941244 764974769150 765400339828 766337827248 772153158452
774647643957 777275614652 780543022126 782484402741 783357654285 785573368785 792733760839 800295151634
801668240914 802834080501 806072073708 807237891255 810671768855 811284229777 811711786498 813361260812
818342061345 819679513684 819792524951 825641698319 833128469047 833944533722 834264404009 835164637446
835444307964 836651553127 836785723513 840123138293 841784149062 843974653677 844356804704 853188333426
855470959533 856416204555 860869212795 867004704886 871362719292 873151114052 875698925577 883091641454
885854791233 886529160074 890145073186 894491911112 895015795356 895741380848 898809789911 904829902805
906073651304 907027046896 912233562940 913387583493 914824155844 915447279597 925152966179 926135532090
929884845733 933208885752 935523707064 936697816551 938034419563 941853720454 951798379941 966458181534
972752614525 975050140332 978288397137 986000313247 990339680094 991648021394 999678624901 999911452149
""".split())
# END generated


@dataclass(frozen=True)
class AwsImage:
    """An image in one of AWS's SageMaker registries, as the URI names it."""

    uri: str
    account: str
    region: str
    repository: str  # e.g. "sagemaker-scikit-learn"
    tag: str  # "" when none is given (latest, or a digest alone)
    framework: str | None  # ours, or None where we have no open implementation


def parse(image: str) -> AwsImage | None:
    """None when ``image`` is not in one of AWS's SageMaker image registries (then it is the user's own image)."""
    match = REFERENCE.fullmatch(image)
    if match is None or match["account"] not in ACCOUNTS:
        return None
    repository = match["repository"].lower()
    return AwsImage(image, match["account"], match["region"].lower(), repository, match["tag"] or "",
                    OURS.get(repository))


def framework_for(image: str, where: str) -> tuple[str | None, list[str]]:
    """(our framework, warnings) for an Image field; (None, []) for an image that is not AWS's.

    An AWS image we have no open implementation of raises :class:`ConfigurationError`,
    saying what to give the container instead. ``where`` names the container in messages
    (``"pipeline.json: container 2"``).
    """
    aws = parse(image)
    if aws is None:
        return None, []
    if aws.framework is None:
        raise ConfigurationError(
            f"{where}: {image} is {description(aws)}, which has no open implementation here; substitute it: "
            f"give the container a Framework ({', '.join(FRAMEWORKS)}) and a ModelDataUrl, or a Command, "
            f"or, with --backend docker, an Image of your own")
    return aws.framework, version_warnings(aws, where)


def docker_image(framework: str, prefix: str = "serving", tag: str = "latest") -> str:
    """Our image of ``framework`` (``serving-sklearn:latest``), which the docker backend runs for AWS's."""
    if framework not in FRAMEWORKS:
        raise ConfigurationError(f"unknown framework '{framework}'; choose one of: {', '.join(FRAMEWORKS)}")
    return f"{prefix}-{framework}:{tag}"


def description(aws: AwsImage) -> str:
    """What an AWS image we do not run is, for the message that refuses it."""
    repository = aws.repository
    if repository in ALGORITHMS:
        return f"AWS's {ALGORITHMS[repository]} algorithm image"
    for start, name in FAMILIES:
        if repository.startswith(start):
            return f"AWS's {name} image"
    return f"an image in AWS's registry (account {aws.account}) that we do not know"


def version_warnings(aws: AwsImage, where: str) -> list[str]:
    """Where the framework version the tag names can matter for the model, one line each."""
    image = version(aws.tag)
    if aws.framework == "sklearn":
        ours = installed("scikit-learn")
        if image and ours and version(ours) != image:
            theirs = "%d.%d" % image
            return [f"{where}: {aws.uri} serves scikit-learn {theirs} and scikit-learn {ours} is installed here: "
                    f"a model pickled with scikit-learn {theirs} may not load or may predict differently under "
                    f"{ours}; retrain and save it with scikit-learn {ours}, or run it in an image of your own "
                    f"that has scikit-learn {theirs} (--backend docker)"]
    elif aws.framework == "xgboost" and aws.repository != "xgboost":  # the older algorithm is XGBoost 0.72
        ours = installed("xgboost", "xgboost-cpu")
        if image and ours and version(ours) and image > version(ours):
            theirs = "%d.%d" % image
            return [f"{where}: {aws.uri} serves XGBoost {theirs}, newer than the XGBoost {ours} installed here: "
                    f"a model saved by XGBoost {theirs} may not load; retrain it with XGBoost {ours} (models of older "
                    f"releases load), or run it in an image of your own that has XGBoost {theirs} (--backend docker)"]
    # SparkML Serving: an MLeap bundle reads the same whatever Spark wrote it. BlazingText: one version.
    return []


def version(text: str) -> tuple[int, int] | None:
    """(major, minor) at the start of a tag or a version: ``1.2-1-cpu-py3`` and ``1.2.2`` give (1, 2)."""
    match = VERSION.match(text)
    return (int(match[1]), int(match[2])) if match else None


def installed(*distributions: str) -> str | None:
    """The version of the first of ``distributions`` installed here (package metadata, no import)."""
    for name in distributions:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None
