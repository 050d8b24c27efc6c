"""Readers of household files: each turns one kind of file into `Record`s or says why it skipped it.

A reader keeps only the fields the instruction builder needs (minimisation happens here, before
anything is written) and tags each record with the members it concerns and its consent category.
"""
