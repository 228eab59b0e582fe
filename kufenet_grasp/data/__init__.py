# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Grasp datasets: Cornell and Jacquard readers, splits, augmentation, training tensors.

Modules: ``sample`` (GraspSample), ``cornell``, ``jacquard`` and ``pcd`` (on-disk readers),
``registry`` (``open_dataset('cornell:PATH')``), ``splits``, ``augment``, ``torch_dataset``
(GraspMapDataset) and ``contact_sheet``. Nothing is imported here, so importing the package
stays cheap.
"""
