"""Launch the frame_restore node.

    ros2 launch frame_restore_ros frame_restore.launch.py \
        params_file:=/path/to/cameras.yaml namespace:=perception use_sim_time:=true \
        camera_topics:="front=/sensing/camera/front/image_raw,rear=/sensing/camera/rear/image_raw"

Arguments:
    params_file    parameter file (default: the package's config/frame_restore.yaml); a path
                   that is not a file stops the launch with the reason (launch_ros itself would
                   only warn and start the node on its defaults)
    use_sim_time   true when replaying a bag with ``ros2 bag play --clock``; empty (default):
                   the parameter file's value (false if it sets none)
    namespace      namespace of the node (relative topics resolve inside it)
    node_name      name of the node (default frame_restore)
    camera_topics  "camera=topic,..." overrides <camera>.input_topic for cameras of the file
    log_level      ROS log level (default info)
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from frame_restore_ros.node.launch_arguments import node_parameters


def _node(context):
    parameters = node_parameters(
        LaunchConfiguration('params_file').perform(context),
        LaunchConfiguration('use_sim_time').perform(context),
        LaunchConfiguration('camera_topics').perform(context),
    )
    return [
        Node(
            package='frame_restore_ros',
            executable='frame_restore',
            name=LaunchConfiguration('node_name'),
            namespace=LaunchConfiguration('namespace'),
            parameters=parameters,
            arguments=['--ros-args', '--log-level', LaunchConfiguration('log_level')],
            output='screen',
            emulate_tty=True,
        )
    ]


def generate_launch_description():
    """Declare the arguments and the node."""
    default_params = PathJoinSubstitution(
        [FindPackageShare('frame_restore_ros'), 'config', 'frame_restore.yaml']
    )
    return LaunchDescription(
        [
            DeclareLaunchArgument(
                'params_file', default_value=default_params, description='parameter file'
            ),
            DeclareLaunchArgument(
                'use_sim_time',
                default_value='',
                description='true: use /clock (bag replay); empty: as the parameter file says',
            ),
            DeclareLaunchArgument('namespace', default_value='', description='node namespace'),
            DeclareLaunchArgument(
                'node_name', default_value='frame_restore', description='node name'
            ),
            DeclareLaunchArgument(
                'camera_topics',
                default_value='',
                description='camera=topic,... overriding <camera>.input_topic',
            ),
            DeclareLaunchArgument('log_level', default_value='info', description='log level'),
            OpaqueFunction(function=_node),
        ]
    )
