"""Build for both colcon (ament_python) and pip.

torch is not pinned here: install ``torch==2.13.0`` first (scripts/setup.sh does), then this
package;
``torch>=2.1`` is then already satisfied and pip installs nothing more.
"""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = 'frame_restore_ros'
# ROS 2 Jazzy from PyPI (rclpy over Fast DDS, no ROS install or sourcing): the node's tests run
# for real. Wheels exist for CPython 3.10-3.12 on Linux x86_64; elsewhere the markers skip them
# and those tests are reported as skipped with the reason.
ROS2_WHEELS = [
    f'{requirement}; sys_platform == "linux" and platform_machine == "x86_64"'
    for requirement in (
        'ros-jazzy-rclpy==7.1.6',
        'ros-jazzy-sensor-msgs==5.3.6',
        'ros-jazzy-diagnostic-msgs==5.3.6',
        'ros-jazzy-rmw-fastrtps-cpp==8.4.3',
    )
]

setup(
    name=PACKAGE,
    version='0.1.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={PACKAGE: ['weights/*.safetensors', 'weights/*.md']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + PACKAGE]),
        ('share/' + PACKAGE, ['package.xml']),
        ('share/' + PACKAGE + '/launch', glob('launch/*.launch.py')),
        ('share/' + PACKAGE + '/config', glob('config/*.yaml')),
    ],
    python_requires='>=3.10',
    install_requires=[
        'numpy>=1.23',
        'opencv-python-headless>=4.8',
        'safetensors>=0.4',
        'torch>=2.1',
        'tqdm>=4.60',
        'onnx>=1.15',
        'onnxscript>=0.2',
        'onnxruntime>=1.17',
        'openvino>=2024.0',
        'scikit-video>=1.1.11',
        'rosbags>=0.11',  # 0.11: the storage-plugin reader that replay --salvage plugs into
        'mcap>=1.2',
        'rosbags-image>=0.10',
        'scikit-image>=0.21',
        'matplotlib>=3.5',
        'ruamel.yaml>=0.17',
    ],
    extras_require={
        'test': ['pytest>=7', 'ruff>=0.5', *ROS2_WHEELS],
        'ros': ROS2_WHEELS,
        'derive': ['av>=12'],  # scripts/derive_clips.py --kinds h264: FFmpeg's libx264
    },
    zip_safe=False,
    maintainer='frame_restore_ros developers',
    maintainer_email='frame-restore@example.com',
    description='Repair failed camera regions from the last clean frame with SiamMCVAE.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'frame-restore = frame_restore_ros.cli.main:main',
            'frame_restore = frame_restore_ros.node.entry:main',
        ],
    },
)
