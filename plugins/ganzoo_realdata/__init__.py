"""Real text-to-image datasets in the StackGAN release layout: CUB birds, Oxford-102 flowers, COCO.

``--dataset cub --data-dir path/to/birds`` (options: ``embedding=random|mean4``,
``cache=true``); ``ganzoo data check PATH --dataset cub`` validates a folder first.
"""

from ganzoo import hookimpl


@hookimpl
def register_datasets(register):
    from ganzoo_realdata.dataset import make_factory

    register("cub", make_factory("cub"),
             "CUB-200-2011 birds, StackGAN 'birds' folder (needs data_dir; char-CNN-RNN embeddings)")
    register("oxford102", make_factory("oxford102"),
             "Oxford-102 flowers, StackGAN 'flowers' folder (needs data_dir; char-CNN-RNN embeddings)")
    register("coco", make_factory("coco"),
             "MS-COCO 2014, StackGAN-v2 'coco' folder (needs data_dir; char-CNN-RNN embeddings)")


@hookimpl
def register_commands(cli):
    from ganzoo_realdata.commands import check, data_group

    data_group(cli).add_command(check)  # `ganzoo data check PATH --dataset cub`
