import os.path as osp

from setuptools import find_packages, setup


def read_version():
    ns = {}
    with open(osp.join(osp.dirname(__file__), 'mmlt', 'version.py')) as f:
        exec(f.read(), ns)
    return ns['__version__']


def read_requirements():
    with open(osp.join(osp.dirname(__file__), 'requirements.txt')) as f:
        return [
            line.split('#')[0].strip() for line in f
            if line.split('#')[0].strip()
        ]


setup(
    name='mmlt',
    version=read_version(),
    description='Long-tailed recognition methods for MMDetection 3.x',
    long_description=open('README.md').read() if osp.exists('README.md') else '',
    long_description_content_type='text/markdown',
    packages=find_packages(include=['mmlt', 'mmlt.*']),
    python_requires='>=3.8',
    install_requires=read_requirements(),
    extras_require={'tests': ['pytest', 'scikit-learn']},
    license='Apache-2.0',
    zip_safe=False,
)
