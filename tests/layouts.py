"""Helpers shared by the tests: the assignment's NHWC layout against the framework's NCHW."""


def nhwc_to_nchw(a):
    return a.transpose(0, 3, 1, 2)


def nchw_to_nhwc(a):
    return a.transpose(0, 2, 3, 1)
